"""Operator jobs over history: fetch missing event snapshots, pull event ranges, rescore.

Every job here is
* idempotent: snapshots are upserted by event_id, links and counters only move from "unset"
  to "set" through conditional UPDATEs (so a rerun, or a second copy running at the same time,
  never counts an account twice);
* resumable: work is walked in keyset order (primary key, or the search API's pagination_key)
  and the cursor is stored in a `BackfillCheckpoint` in the same transaction as the batch it
  follows, so a restart after Ctrl-C or a crash continues where the last commit left off;
* polite: every Fingerprint request first takes a permit from one process-wide rate limiter
  (`--rps`), so live signups keep their share of the API key's quota.

Network I/O never happens inside a transaction. The commands in risk/management/commands only
parse options, draw the progress bar and call the functions below.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from risk import rules
from risk.clients import fingerprint_client
from risk.conf import RiskSettings
from risk.fingerprint.errors import FingerprintError, NotFoundError, RequestError
from risk.fingerprint.events import Event, normalise_event
from risk.fingerprint.rate_limit import shared_limiter
from risk.models import (
    BackfillCheckpoint,
    Device,
    DeviceStatus,
    DrnSnapshot,
    DrnStatus,
    FingerprintEvent,
    Reassessment,
    ReviewDecision,
    ReviewStatus,
    SignupAttempt,
)
from risk.services.drn import drn_lookup
from risk.services.signup import event_snapshot_fields

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]
# Every column a refetch may refresh (fetched_at keeps the first fetch time).
SNAPSHOT_UPDATE_FIELDS = list(
    event_snapshot_fields(Event(event_id="", api_version="v4", raw={}), device=None)
)


class BackfillError(Exception):
    """A job cannot start or continue; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- rate limiting ------------------------------------------------------------------------


class RateLimiter(Protocol):
    def acquire(self, timeout: float | None = None) -> bool: ...


class _Unlimited:
    def acquire(self, timeout: float | None = None) -> bool:
        return True


def rate_limiter_build(*, rps: float, name: str = "backfill") -> RateLimiter:
    """The process-wide limiter every thread of a job draws from; rps <= 0: unlimited."""
    if rps <= 0:
        return _Unlimited()
    return shared_limiter(name, rps)


def _permit(limiter: RateLimiter) -> None:
    while not limiter.acquire(timeout=5.0):
        pass  # keep waiting: a permit is due, the timeout only keeps Ctrl-C responsive


# --- checkpoints --------------------------------------------------------------------------


def checkpoint_load(*, name: str) -> dict | None:
    row = BackfillCheckpoint.objects.filter(name=name).first()
    return dict(row.state) if row else None


def checkpoint_save(*, name: str, state: dict) -> None:
    BackfillCheckpoint.objects.update_or_create(name=name, defaults={"state": state})


def checkpoint_clear(*, name: str) -> None:
    BackfillCheckpoint.objects.filter(name=name).delete()


# --- time parsing (shared by the commands) ------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def moment_parse(value: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 date/time (UTC when no zone) or a relative age such as 90m, 24h, 7d."""
    value = value.strip()
    now = now or timezone.now()
    if len(value) >= 2 and value[-1] in _UNITS and value[:-1].isdigit():
        return now - timedelta(seconds=int(value[:-1]) * _UNITS[value[-1]])
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BackfillError(
            "invalid_time", f"{value!r} is not an ISO 8601 time or an age like 24h / 7d"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- storing events -----------------------------------------------------------------------


@dataclass
class Tally:
    """Counts by outcome, printed as the job's summary."""

    counts: Counter = field(default_factory=Counter)

    def add(self, outcome: str, n: int = 1) -> None:
        if n:
            self.counts[outcome] += n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _devices_ensure(events: Iterable[Event], tally: Tally) -> dict[str, int]:
    """visitor_id -> Device pk, creating the devices we have never seen."""
    platforms = {e.visitor_id: e.platform[:16] for e in events if e.visitor_id}
    if not platforms:
        return {}
    known = dict(Device.objects.filter(visitor_id__in=platforms).values_list("visitor_id", "pk"))
    missing = [Device(visitor_id=v, platform=p) for v, p in platforms.items() if v not in known]
    if missing:
        # ON CONFLICT DO NOTHING: a live signup may create the same device meanwhile.
        Device.objects.bulk_create(missing, ignore_conflicts=True, batch_size=500)
        created = dict(
            Device.objects.filter(visitor_id__in=[d.visitor_id for d in missing]).values_list(
                "visitor_id", "pk"
            )
        )
        tally.add("devices_created", len(created))
        known.update(created)
    return known


def events_store(*, events: list[Event], tally: Tally) -> dict[str, int]:
    """Upsert snapshots by event_id, link devices, attempts and accounts. Returns event_id -> pk.

    Runs in the caller's transaction; every statement is safe to repeat.
    """
    if not events:
        return {}
    unique = list({e.event_id: e for e in events}.values())
    devices = _devices_ensure(unique, tally)
    rows = []
    for event in unique:
        row = FingerprintEvent(event_id=event.event_id, **event_snapshot_fields(event, device=None))
        row.device_id = devices.get(event.visitor_id)
        rows.append(row)
    FingerprintEvent.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["event_id"],
        update_fields=SNAPSHOT_UPDATE_FIELDS,
        batch_size=500,
    )
    tally.add("events_stored", len(rows))
    ids = [e.event_id for e in unique]
    return _snapshots_link(ids, tally=tally)


def _snapshots_link(event_ids: Iterable[str], *, tally: Tally) -> dict[str, int]:
    """Link stored snapshots of these events to their waiting attempts and accounts."""
    links = {
        event_id: (pk, device, visitor)
        for event_id, pk, device, visitor in FingerprintEvent.objects.filter(
            event_id__in=list(event_ids)
        ).values_list("event_id", "pk", "device_id", "visitor_id")
    }
    if links:
        _attempts_link(links=links, tally=tally)
        _accounts_link(devices={e: link[1] for e, link in links.items()}, tally=tally)
    return {event_id: link[0] for event_id, link in links.items()}


def _attempts_link(*, links: dict[str, tuple[int, int | None, str]], tally: Tally) -> None:
    waiting = SignupAttempt.objects.filter(
        event_id__in=list(links), fingerprint_event__isnull=True
    ).values_list("pk", "event_id", "device_id", "account_id")
    attempts_per_device: Counter = Counter()
    for pk, event_id, device_id, account_id in waiting:
        snapshot, device, visitor = links[event_id]
        changes: dict = {"fingerprint_event_id": snapshot}
        if device_id is None and device is not None:
            changes.update(device_id=device, visitor_id=visitor)
        # Conditional: a concurrent run that linked it first wins, and we count nothing.
        linked = SignupAttempt.objects.filter(pk=pk, fingerprint_event__isnull=True).update(
            **changes
        )
        if not linked:
            continue
        tally.add("attempts_linked")
        if "device_id" in changes:
            attempts_per_device[device] += 1
        if account_id is not None:
            _event_claim(pk=pk, event_id=event_id, tally=tally)
    for device, n in attempts_per_device.items():
        Device.objects.filter(pk=device).update(attempt_count=F("attempt_count") + n)


def _event_claim(*, pk: int, event_id: str, tally: Tally) -> None:
    """The event backed this attempt's account: claim it, so a later signup reusing the id is
    refused as `event_reused` (unless another attempt already claimed it)."""
    try:
        with transaction.atomic():  # savepoint: losing the unique race must not abort the batch
            claimed = SignupAttempt.objects.filter(pk=pk, claimed_event_id__isnull=True).update(
                claimed_event_id=event_id
            )
    except IntegrityError:
        claimed = 0
    tally.add("events_claimed", claimed)


def _accounts_link(*, devices: dict[str, int | None], tally: Tally) -> None:
    """Give accounts that signed up with these events their device (once: NULL -> device)."""
    user_model = get_user_model()
    waiting = user_model.objects.filter(
        signup_event_id__in=[e for e, d in devices.items() if d is not None],
        device__isnull=True,
    ).values_list("pk", "signup_event_id")
    accounts_per_device: Counter = Counter()
    for pk, event_id in waiting:
        device = devices[event_id]
        if user_model.objects.filter(pk=pk, device__isnull=True).update(device_id=device):
            accounts_per_device[device] += 1
    for device, n in accounts_per_device.items():
        Device.objects.filter(pk=device).update(account_count=F("account_count") + n)
        tally.add("accounts_linked", n)


# --- backfill_events: missing snapshots by event_id ---------------------------------------

MISSING_CHECKPOINT = "backfill_events:missing"


def _missing_attempts(after: int):
    return (
        SignupAttempt.objects.filter(fingerprint_event__isnull=True, pk__gt=after)
        .exclude(event_id="")
        .order_by("pk")
    )


def _missing_accounts(after: int):
    user_model = get_user_model()
    return (
        user_model.objects.filter(pk__gt=after)
        .exclude(signup_event_id="")
        .filter(~Exists(FingerprintEvent.objects.filter(event_id=OuterRef("signup_event_id"))))
        .order_by("pk")
    )


def missing_events_count() -> dict[str, int]:
    """How many attempts and accounts lack their event snapshot (for --dry-run and the bar)."""
    return {"attempts": _missing_attempts(0).count(), "accounts": _missing_accounts(0).count()}


@dataclass(frozen=True)
class FetchOutcome:
    event_id: str
    event: Event | None
    outcome: str  # fetched | not_found | unavailable
    error: str = ""


def _fetch_one(event_id: str, limiter: RateLimiter) -> FetchOutcome:
    _permit(limiter)
    try:
        return FetchOutcome(event_id, fingerprint_client().get_event(event_id), "fetched")
    except (NotFoundError, RequestError) as exc:
        return FetchOutcome(event_id, None, "not_found", str(exc))
    except FingerprintError as exc:
        return FetchOutcome(event_id, None, "unavailable", str(exc))


def events_fetch_by_id(
    *, event_ids: list[str], limiter: RateLimiter, workers: int = 1
) -> list[FetchOutcome]:
    """Fetch events (threads share the limiter; no database access in the threads)."""
    if workers <= 1 or len(event_ids) <= 1:
        return [_fetch_one(event_id, limiter) for event_id in event_ids]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill-fetch") as pool:
        return list(pool.map(lambda event_id: _fetch_one(event_id, limiter), event_ids))


def events_backfill_missing(
    *,
    limiter: RateLimiter,
    workers: int = 1,
    batch_size: int = 100,
    restart: bool = False,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> Tally:
    """Fetch the snapshot of every attempt and account that has an event_id but no snapshot.

    Walks attempts, then accounts, by primary key; the checkpoint holds the phase and the last
    primary key whose batch committed. Ids Fingerprint does not know are counted `not_found`;
    ids it could not serve now are counted `unavailable` and picked up by the next run (the
    checkpoint is cleared when a pass completes, so a rerun starts from the top).
    `after_batch(state)` runs after each commit (tests use it to simulate a crash).
    """
    state = None if restart else checkpoint_load(name=MISSING_CHECKPOINT)
    state = state or {"phase": "attempts", "after": 0, "counts": {}}
    tally = Tally(Counter(state.get("counts", {})))
    phases = ("attempts", "accounts")
    for phase in phases[phases.index(state["phase"]) :]:
        after = state["after"] if state["phase"] == phase else 0
        while True:
            if phase == "attempts":
                rows = list(_missing_attempts(after).values_list("pk", "event_id")[:batch_size])
            else:
                rows = list(
                    _missing_accounts(after).values_list("pk", "signup_event_id")[:batch_size]
                )
            if not rows:
                break
            event_ids = list(dict.fromkeys(event_id for _, event_id in rows))
            stored = set(
                FingerprintEvent.objects.filter(event_id__in=event_ids).values_list(
                    "event_id", flat=True
                )
            )
            outcomes = events_fetch_by_id(
                event_ids=[e for e in event_ids if e not in stored],
                limiter=limiter,
                workers=workers,
            )
            after = rows[-1][0]
            with transaction.atomic():
                if stored:
                    tally.add("already_stored", len(stored))
                    _snapshots_link(stored, tally=tally)
                for outcome in outcomes:
                    tally.add(outcome.outcome)
                    if outcome.outcome == "unavailable":
                        logger.warning("event %s unavailable: %s", outcome.event_id, outcome.error)
                events_store(events=[o.event for o in outcomes if o.event], tally=tally)
                state = {"phase": phase, "after": after, "counts": tally.as_dict()}
                checkpoint_save(name=MISSING_CHECKPOINT, state=state)
            if progress:
                progress(len(rows))
            if after_batch:
                after_batch(state)
    checkpoint_clear(name=MISSING_CHECKPOINT)
    return tally


def events_missing_preview() -> Tally:
    """--dry-run: what a run would do, without network calls or writes."""
    tally = Tally()
    counts = missing_events_count()
    tally.add("attempts_missing_snapshot", counts["attempts"])
    tally.add("accounts_missing_snapshot", counts["accounts"])
    ids = set(_missing_attempts(0).values_list("event_id", flat=True)) | set(
        _missing_accounts(0).values_list("signup_event_id", flat=True)
    )
    stored = FingerprintEvent.objects.filter(event_id__in=ids).count() if ids else 0
    tally.add("would_link_stored_events", stored)
    tally.add("would_fetch_events", len(ids) - stored)
    return tally


# --- backfill_events: a time range from the search API ------------------------------------


def search_checkpoint_name(*, since: datetime, until: datetime | None, visitor: str) -> str:
    return "backfill_events:search:{}:{}:{}".format(
        int(since.timestamp() * 1000),
        int(until.timestamp() * 1000) if until else "now",
        visitor or "*",
    )


def _page_fetch(*, limiter: RateLimiter, attempts: int = 5, **params):
    """One search page; Fingerprint being briefly down or rate limiting is retried with backoff."""
    for attempt in range(attempts):
        _permit(limiter)
        try:
            return fingerprint_client().search_events(limit=100, **params)
        except (RequestError, NotFoundError) as exc:
            raise BackfillError("search_refused", f"Fingerprint refused the search: {exc}") from exc
        except FingerprintError as exc:
            if attempt == attempts - 1:
                raise BackfillError(
                    "fingerprint_unavailable", f"search failed {attempts} times: {exc}"
                ) from exc
            time.sleep(min(10.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def _page_store(*, page, state: dict, name: str, dry_run: bool, tally: Tally) -> None:
    """Store one search page and move the checkpoint past it (in one transaction)."""
    if dry_run:
        ids = [e.event_id for e in page.events]
        stored = FingerprintEvent.objects.filter(event_id__in=ids).count()
        tally.add("would_store_new", len(ids) - stored)
        tally.add("would_refresh_stored", stored)
        return
    with transaction.atomic():
        events_store(events=page.events, tally=tally)
        state.update(
            pagination_key=page.pagination_key, pages=state["pages"] + 1, counts=tally.as_dict()
        )
        checkpoint_save(name=name, state=state)


def events_backfill_search(
    *,
    since: datetime,
    until: datetime | None,
    visitor: str = "",
    limiter: RateLimiter,
    restart: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> Tally:
    """Pull every event of [since, until] from the search API and store it.

    The window end is fixed at the first run (stored in the checkpoint with the last
    pagination_key), so a resumed run pages through exactly the same result set.
    """
    name = search_checkpoint_name(since=since, until=until, visitor=visitor)
    state = None if (restart or dry_run) else checkpoint_load(name=name)
    if state is None:
        end = until or timezone.now()
        state = {
            "start_ms": int(since.timestamp() * 1000),
            "end_ms": int(end.timestamp() * 1000),
            "pagination_key": None,
            "pages": 0,
            "counts": {},
        }
    if state["start_ms"] > state["end_ms"]:
        raise BackfillError("invalid_range", "--since is after --until")
    tally = Tally(Counter(state.get("counts", {})))

    def fetch(key: str | None):
        return _page_fetch(
            limiter=limiter,
            start=state["start_ms"],
            end=state["end_ms"],
            visitor_id=visitor or None,
            pagination_key=key,
        )

    # One page is fetched ahead while the previous one is written (the HTTP wait and the
    # database wait overlap); the checkpoint only moves once a page is committed.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-search") as ahead:
        pending = ahead.submit(fetch, state["pagination_key"])
        while True:
            page = pending.result()
            if page.pagination_key:
                pending = ahead.submit(fetch, page.pagination_key)
            _page_store(page=page, state=state, name=name, dry_run=dry_run, tally=tally)
            if progress:
                progress(len(page.events))
            if after_batch:
                after_batch(state)
            if not page.pagination_key:
                break
    if not dry_run:
        checkpoint_clear(name=name)
    return tally


# --- rescore: the current rules over stored attempts --------------------------------------

RESCORE_SAMPLE = 20


@dataclass
class RescoreReport:
    """What the current rules say about past attempts, aggregated for the operator."""

    tally: Tally = field(default_factory=Tally)
    transitions: Counter = field(default_factory=Counter)  # "allow->review" -> attempts
    reasons_added: Counter = field(default_factory=Counter)  # reason -> changed attempts
    reasons_removed: Counter = field(default_factory=Counter)
    samples: list[dict] = field(default_factory=list)  # the first few changes, for a look

    def to_state(self) -> dict:
        return {
            "counts": self.tally.as_dict(),
            "transitions": dict(self.transitions),
            "reasons_added": dict(self.reasons_added),
            "reasons_removed": dict(self.reasons_removed),
            "samples": self.samples,
        }

    @classmethod
    def from_state(cls, state: dict) -> RescoreReport:
        return cls(
            Tally(Counter(state.get("counts", {}))),
            Counter(state.get("transitions", {})),
            Counter(state.get("reasons_added", {})),
            Counter(state.get("reasons_removed", {})),
            list(state.get("samples", [])),
        )


def _fetch_failure(attempt: SignupAttempt) -> str | None:
    """How the original fetch failed, for attempts without a snapshot; None: nothing to score."""
    if "fingerprint_unavailable" in attempt.reasons:
        return "unavailable"
    if "event_not_found" in attempt.reasons:
        return "not_found"
    return None  # e.g. imported accounts: there never was an event


def attempt_context_rebuild(
    *, attempt: SignupAttempt, accounts_before: int
) -> rules.SignupContext | None:
    """The rules' input for a past attempt, rebuilt from what was stored.

    Exact: the event (normalised from the raw snapshot), the client IP and Origin, the time of
    the signup (freshness is judged against `created_at`, not today), whether the event was
    reused. Approximated from current data: the device's status (today's, so a device blocked
    since shows as blocked) and its account count (accounts on the device that joined before
    the attempt, so accounts deleted or moved since are not seen). DRN facts are the snapshot
    linked to the attempt, when that lookup answered.
    """
    snapshot = attempt.fingerprint_event
    if snapshot is None:
        failure = _fetch_failure(attempt)
        if failure is None:
            return None
        return rules.SignupContext(event=None, now=attempt.created_at, fetch_failure=failure)
    device = attempt.device
    drn = attempt.drn_snapshot
    return rules.SignupContext(
        drn=drn if drn is not None and drn.status == DrnStatus.OK else None,
        event=normalise_event(snapshot.raw),
        now=attempt.created_at,
        event_reused="event_reused" in attempt.reasons,
        client_ip=attempt.client_ip or "",
        request_origin=attempt.origin,
        device_status=device.status if device else DeviceStatus.NORMAL,
        device_accounts=accounts_before,
    )


def _accounts_joined(device_ids: set[int]) -> dict[int, list]:
    joined: dict[int, list] = defaultdict(list)
    rows = (
        get_user_model()
        .objects.filter(device_id__in=device_ids)
        .values_list("device_id", "date_joined")
    )
    for device_id, date_joined in rows:
        joined[device_id].append(date_joined)
    for dates in joined.values():
        dates.sort()
    return joined


def attempts_rescore(
    *,
    since: datetime,
    until: datetime | None,
    run_id: str,
    cfg: RiskSettings,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> RescoreReport:
    """Re-run the rules over the attempts created in [since, until].

    Applying records one `Reassessment` per attempt and run (unique: rerunning a run id adds
    nothing) and sets review_status to pending on attempts whose decision would change, unless
    a reviewer already decided on them (approved / rejected, or any ReviewDecision row): their
    status and audit rows are left alone. The attempt's original `decision` is never changed.
    `--dry-run` computes the same report and writes nothing, not even a checkpoint.
    """
    name = f"rescore:{run_id}"
    state = None if dry_run else checkpoint_load(name=name)
    if state is None:
        end = until or timezone.now()
        state = {"after": 0, "until": end.isoformat(), "report": {}}
    report = RescoreReport.from_state(state["report"])
    end = datetime.fromisoformat(state["until"])
    if since > end:
        raise BackfillError("invalid_range", "--since is after --until")
    base = (
        SignupAttempt.objects.filter(created_at__gte=since, created_at__lte=end)
        .select_related("fingerprint_event", "device", "drn_snapshot")
        .order_by("pk")
    )
    after = state["after"]
    while True:
        batch = list(base.filter(pk__gt=after)[:batch_size])
        if not batch:
            break
        after = batch[-1].pk
        joined = _accounts_joined({a.device_id for a in batch if a.device_id})
        verdicts = []
        for attempt in batch:
            dates = joined.get(attempt.device_id, [])
            ctx = attempt_context_rebuild(
                attempt=attempt, accounts_before=bisect_left(dates, attempt.created_at)
            )
            if ctx is None:
                report.tally.add("skipped_no_event")
                continue
            verdicts.append((attempt, rules.evaluate_signup(ctx, cfg)))
        changed = _report_add(report, verdicts)
        if not dry_run:
            with transaction.atomic():
                _reassessments_record(
                    run_id=run_id, verdicts=verdicts, changed=changed, report=report
                )
                state = {"after": after, "until": state["until"], "report": report.to_state()}
                checkpoint_save(name=name, state=state)
        if progress:
            progress(len(batch))
        if after_batch:
            after_batch(state)
    if not dry_run:
        checkpoint_clear(name=name)
    return report


def _report_add(report: RescoreReport, verdicts: list) -> list[SignupAttempt]:
    changed = []
    for attempt, assessment in verdicts:
        report.tally.add("scored")
        if assessment.decision == attempt.decision:
            report.tally.add("unchanged")
            continue
        changed.append(attempt)
        report.tally.add("changed")
        report.transitions[f"{attempt.decision}->{assessment.decision}"] += 1
        added = sorted(set(assessment.reasons) - set(attempt.reasons))
        removed = sorted(set(attempt.reasons) - set(assessment.reasons))
        for reason in added:
            report.reasons_added[reason] += 1
        for reason in removed:
            report.reasons_removed[reason] += 1
        if len(report.samples) < RESCORE_SAMPLE:
            report.samples.append(
                {
                    "attempt": attempt.pk,
                    "from": attempt.decision,
                    "to": assessment.decision,
                    "added": added,
                    "removed": removed,
                }
            )
    return changed


def _reassessments_record(
    *, run_id: str, verdicts: list, changed: list[SignupAttempt], report: RescoreReport
) -> None:
    ids = [attempt.pk for attempt, _ in verdicts]
    done = set(
        Reassessment.objects.filter(run_id=run_id, attempt_id__in=ids).values_list(
            "attempt_id", flat=True
        )
    )
    rows = [
        Reassessment(
            attempt=attempt,
            run_id=run_id,
            previous_decision=attempt.decision,
            decision=assessment.decision,
            reasons=assessment.reasons,
        )
        for attempt, assessment in verdicts
        if attempt.pk not in done
    ]
    Reassessment.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    report.tally.add("reassessments_recorded", len(rows))
    if not changed:
        return
    changed_ids = [a.pk for a in changed]
    reviewed = SignupAttempt.objects.filter(pk__in=changed_ids).filter(
        Q(review_status__in=[ReviewStatus.APPROVED, ReviewStatus.REJECTED])
        | Q(Exists(ReviewDecision.objects.filter(attempt=OuterRef("pk"))))
    )
    report.tally.add("kept_reviewer_decision", reviewed.count())
    # Conditional UPDATE: a reviewer deciding right now (status leaves "") is never overwritten.
    flagged = (
        SignupAttempt.objects.filter(pk__in=changed_ids, review_status=ReviewStatus.NONE)
        .exclude(Exists(ReviewDecision.objects.filter(attempt=OuterRef("pk"))))
        .update(review_status=ReviewStatus.PENDING)
    )
    report.tally.add("flagged_for_review", flagged)


# --- backfill_drn: Device Reputation Network lookups owed to Android devices -------------

DRN_CHECKPOINT = "backfill_drn"


def drn_due_devices(*, max_age: timedelta, after: int = 0):
    """Android devices owing a lookup: queued (drn_lookup_pending), never answered, or whose
    latest answer is older than `max_age`; in id order from `after` (the checkpoint)."""
    fresh = DrnSnapshot.objects.filter(
        device=OuterRef("pk"),
        status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND),
        fetched_at__gte=timezone.now() - max_age,
    )
    android = Q(platform="android") | Q(
        platform="", events__platform="android"
    )  # devices stored before their platform was recorded
    return (
        Device.objects.filter(android, id__gt=after)
        .filter(Q(drn_lookup_pending=True) | ~Exists(fresh))
        .distinct()
        .order_by("id")
    )


def drn_backfill(
    *,
    max_age: timedelta,
    limiter: RateLimiter,
    restart: bool = False,
    batch_size: int = 100,
    progress: Progress | None = None,
    after_batch: Callable[[dict], None] | None = None,
) -> Tally:
    """Look up every due device (risk.services.drn.drn_lookup, forced: the query already
    decided the cached answer is too old). The snapshot becomes the evidence of the device's
    latest attempt that has no answered lookup yet. A failed lookup keeps the device queued
    (drn_lookup_pending) and is counted `error`; the next run retries it."""

    state = None if restart else checkpoint_load(name=DRN_CHECKPOINT)
    state = state or {"after": 0, "counts": {}}
    tally = Tally(Counter(state["counts"]))
    after = state["after"]
    while devices := list(drn_due_devices(max_age=max_age, after=after)[:batch_size]):
        for device in devices:
            attempt = (
                SignupAttempt.objects.filter(device=device)
                .exclude(drn_snapshot__status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND))
                .order_by("-created_at", "-pk")
                .first()
            )
            _permit(limiter)
            snapshot = drn_lookup(device=device, attempt=attempt, force=True)
            tally.add(snapshot.status if snapshot is not None else "not_android")
            after = device.pk
            state = {"after": after, "counts": tally.as_dict()}
            checkpoint_save(name=DRN_CHECKPOINT, state=state)
            if progress:
                progress(1)
            if after_batch:
                after_batch(state)
    checkpoint_clear(name=DRN_CHECKPOINT)
    return tally
