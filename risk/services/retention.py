"""Retention: raw evidence older than RISK_SNAPSHOT_RETENTION_DAYS is stripped (`manage.py
purge_snapshots`, and a daily Celery beat task), except where a reviewer or the verification
still needs it. What is kept, and why: docs/privacy.md."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from risk.conf import risk_settings
from risk.models import (
    DrnSnapshot,
    FingerprintEvent,
    FingerprintEventVersion,
    ReviewStatus,
    SignupAttempt,
)
from risk.services.jobs import BackfillError, Batch, Progress, Tally, item_guard, job_run

PURGE_CHECKPOINT = "privacy:purge_snapshots"


def retention_days(days: int | None = None) -> int:
    """The window in days: `days` when given, else RISK_SNAPSHOT_RETENTION_DAYS (0: keep)."""
    if days is None:
        days = risk_settings().snapshot_retention_days
    if not isinstance(days, int) or days < 0:
        raise BackfillError("invalid_retention", "the retention must be a number of days >= 0")
    return days


def _held() -> Q:
    """Attempts whose evidence is still needed: held for a reviewer, or accepted while
    Fingerprint was down and waiting to be verified by the rules (the IP check needs the IP)."""
    return Q(review_status=ReviewStatus.PENDING) | Q(decision="unverified")


def _purge_phases(cutoff) -> list[tuple[str, QuerySet, dict]]:
    """(name, rows to strip, values) for each kind of old evidence; held attempts' evidence
    is left alone (a reviewer still needs it)."""
    held_event = SignupAttempt.objects.filter(_held(), fingerprint_event=OuterRef("pk"))
    held_drn = SignupAttempt.objects.filter(_held(), drn_snapshot=OuterRef("pk"))
    events = (
        FingerprintEvent.objects.filter(fetched_at__lt=cutoff)
        .filter(Q(ip__isnull=False) | ~Q(url="") | ~Q(raw={}))
        .exclude(Exists(held_event))
    )
    drn = (
        DrnSnapshot.objects.filter(fetched_at__lt=cutoff)
        .filter(~Q(raw={}) | ~Q(countries=[]))
        .exclude(Exists(held_drn))
    )
    attempts = SignupAttempt.objects.filter(created_at__lt=cutoff, client_ip__isnull=False).exclude(
        _held()
    )
    held_version = SignupAttempt.objects.filter(_held(), fingerprint_event=OuterRef("event"))
    versions = (
        FingerprintEventVersion.objects.filter(fetched_at__lt=cutoff)
        .exclude(raw={})
        .exclude(Exists(held_version))
    )
    return [
        ("events", events, {"raw": {}, "ip": None, "url": ""}),
        ("event_versions", versions, {"raw": {}}),
        ("drn_snapshots", drn, {"raw": {}, "countries": []}),
        ("attempts", attempts, {"client_ip": None, "client_network": ""}),
    ]


def snapshots_purge_due(*, days: int | None = None) -> dict[str, int]:
    """How many rows the purge would strip now, per kind (it writes nothing)."""
    days = retention_days(days)
    if days == 0:
        return {}
    cutoff = timezone.now() - timedelta(days=days)
    return {f"{name}_due": rows.count() for name, rows, _ in _purge_phases(cutoff)}


def snapshots_purge_expired(
    *,
    days: int | None = None,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> Tally:
    """Strip raw snapshots, DRN answers and IP addresses older than the retention window
    from evidence no reviewer is waiting on. A resumable job (risk.services.jobs.job_run): an
    interrupted run, run again, continues where it stopped with the same cutoff.
    days=0: keep forever.

    Every UPDATE re-checks its conditions, so an attempt that became held meanwhile (rescore)
    keeps its evidence. Kept: the extracted signal columns, decisions and reasons.
    """
    days = retention_days(days)
    if batch_size < 1:
        raise BackfillError("invalid_batch_size", "the batch size must be at least 1")
    tally = Tally()
    if days == 0:
        return tally
    cutoff = timezone.now() - timedelta(days=days)

    def next_batch(state: dict) -> Batch | None:
        tally.counts = Counter(state["counts"])
        phases = _purge_phases(datetime.fromisoformat(state["cutoff"]))
        number, after = state["phase"], state["after"]
        while number < len(phases):
            name, rows, values = phases[number]
            ids = list(
                rows.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
            )
            if ids:
                break
            number, after = number + 1, 0
        else:
            return None

        def write(state: dict) -> dict:
            with item_guard(tally, what=f"purging {name}", item=f"{ids[0]}..{ids[-1]}"):
                tally.add(f"{name}_stripped", rows.filter(pk__in=ids).update(**values))
            return {**state, "phase": number, "after": ids[-1], "counts": tally.as_dict()}

        return Batch(size=len(ids), write=write)

    job_run(
        name=PURGE_CHECKPOINT,
        initial={"cutoff": cutoff.isoformat(), "phase": 0, "after": 0, "counts": {}},
        next_batch=next_batch,
        progress=progress,
    )
    return tally
