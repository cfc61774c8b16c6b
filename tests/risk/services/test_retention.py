"""The retention purge over attempts made through the real signup API (sandbox over HTTP)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from risk import selectors
from risk.models import (
    BackfillCheckpoint,
    DrnSnapshot,
    FingerprintEvent,
    FingerprintEventVersion,
    SignupAttempt,
)
from risk.services import rescore, retention
from tests.support.review import empty_cache, signup  # noqa: F401

pytestmark = pytest.mark.django_db
OLD = timezone.now() - timedelta(days=120)


@pytest.fixture
def attempts(sandbox):
    """Four old allowed attempts, one old held attempt (Tor), one recent attempt; every one
    with a DRN answer."""
    made = {"old": [signup(sandbox, "human")[1] for _ in range(4)]}
    made["held"] = signup(sandbox, "tor")[1]
    assert made["held"].review_status == "pending"
    for attempt in [*made["old"], made["held"]]:
        SignupAttempt.objects.filter(pk=attempt.pk).update(created_at=OLD)
        FingerprintEvent.objects.filter(pk=attempt.fingerprint_event_id).update(fetched_at=OLD)
    made["recent"] = signup(sandbox, "human")[1]
    for attempt in SignupAttempt.objects.all():
        drn = DrnSnapshot.objects.create(
            device=attempt.device,
            visitor_id=attempt.visitor_id,
            status="ok",
            raw={"data": {"suspectScore": {}}},
            countries=[{"code": "DE", "ip": 1.0}],
            max_percentile=0.5,
        )
        SignupAttempt.objects.filter(pk=attempt.pk).update(drn_snapshot=drn)
        if attempt.pk != made["recent"].pk:
            DrnSnapshot.objects.filter(pk=drn.pk).update(fetched_at=OLD)
    return made


def evidence(attempt: SignupAttempt) -> tuple:
    attempt = SignupAttempt.objects.select_related("fingerprint_event", "drn_snapshot").get(
        pk=attempt.pk
    )
    event, drn = attempt.fingerprint_event, attempt.drn_snapshot
    return attempt.client_ip, event.ip, event.raw != {}, drn.raw != {}, drn.countries != []


def figures() -> Counter:
    rows = SignupAttempt.objects.values_list("decision", "reasons", "review_status")
    return Counter((d, tuple(r), s) for d, r, s in rows)


def test_purge_strips_old_evidence_and_leaves_held_and_recent_alone(attempts):
    before = figures()
    signals = {
        a.pk: (a.fingerprint_event.bot, a.fingerprint_event.suspect_score) for a in attempts["old"]
    }
    out = io.StringIO()
    call_command("purge_snapshots", dry_run=True, stdout=out)
    assert "events_due" in out.getvalue()
    assert retention.snapshots_purge_due() == {
        "events_due": 4,
        "event_versions_due": 0,
        "drn_snapshots_due": 4,
        "attempts_due": 4,
    }
    assert FingerprintEvent.objects.filter(raw={}).count() == 0  # the dry run wrote nothing
    out = io.StringIO()
    call_command("purge_snapshots", no_progress=True, stdout=out)  # default: 90 days
    assert "events_stripped" in out.getvalue()
    for attempt in attempts["old"]:
        assert evidence(attempt) == (None, None, False, False, False)
        event = FingerprintEvent.objects.get(pk=attempt.fingerprint_event_id)
        assert (event.bot, event.suspect_score) == signals[attempt.pk]  # signals kept
        assert event.url == "" and event.event_id == attempt.event_id
    for kept in (attempts["held"], attempts["recent"]):
        ip = kept.client_ip
        assert ip and evidence(kept) == (ip, ip, True, True, True)
    assert figures() == before
    assert not BackfillCheckpoint.objects.exists()
    # What reads snapshots copes with a stripped one.
    stripped = SignupAttempt.objects.get(pk=attempts["old"][0].pk)
    assert "removed" in selectors.attempt_signals(attempt=stripped)["error"]
    assert rescore.attempt_context_rebuild(attempt=stripped, accounts_before=0) is None


def test_a_backfill_after_the_purge_does_not_bring_the_evidence_back(attempts):
    """The sandbox still serves the old events: the backfill must leave stripped snapshots
    stripped (no later version with the full payload)."""
    call_command("purge_snapshots", no_progress=True, stdout=io.StringIO())
    stripped = FingerprintEvent.objects.filter(raw={})
    assert stripped.count() == 4
    out = io.StringIO()
    for visitor in set(stripped.values_list("visitor_id", flat=True)):  # only these devices
        window = {"since": "1h", "visitor": visitor, "rps": 0, "no_progress": True}
        call_command("backfill_events", stdout=out, **window)
    assert "events_stripped_skipped" in out.getvalue()
    assert stripped.count() == 4
    assert not FingerprintEventVersion.objects.filter(event__in=stripped).exists()


def test_purge_is_resumable(attempts, crash_after_batches):
    from risk.services.jobs import batch_committed

    batches = crash_after_batches(2)  # Ctrl-C right after the second batch commits
    with pytest.raises(KeyboardInterrupt):
        retention.snapshots_purge_expired(batch_size=1)
    batch_committed.disconnect(dispatch_uid="crash_after_batches")
    saved = BackfillCheckpoint.objects.get(name=retention.PURGE_CHECKPOINT).state
    assert saved["phase"] == 0 and saved["counts"] == {"events_stripped": 2}
    stripped = FingerprintEvent.objects.filter(raw={}).count()
    assert stripped == 2
    # Run again: it continues after the saved row, with the saved cutoff, and its summary
    # counts the whole job (4 old events, 4 old DRN answers, 4 old attempts' IPs).
    batch_committed.connect(
        lambda sender, state, **kw: batches.append(state), weak=False, dispatch_uid="count"
    )
    try:
        tally = retention.snapshots_purge_expired(batch_size=1)
    finally:
        batch_committed.disconnect(dispatch_uid="count")
    assert tally.as_dict() == {
        "attempts_stripped": 4,
        "drn_snapshots_stripped": 4,
        "events_stripped": 4,
    }
    assert len(batches) == 2 + 10  # 2 events before; 2 events + 4 DRN + 4 attempts after
    assert batches[2]["after"] > saved["after"]
    held_ip = attempts["held"].client_ip
    assert evidence(attempts["held"]) == (held_ip, held_ip, True, True, True)
    assert not BackfillCheckpoint.objects.exists()
    # Nothing left to do: a third run changes nothing.
    assert retention.snapshots_purge_expired().as_dict() == {}


def test_retention_setting_and_bad_values(attempts, settings):
    settings.RISK_SNAPSHOT_RETENTION_DAYS = 365
    assert retention.snapshots_purge_expired().as_dict() == {}
    settings.RISK_SNAPSHOT_RETENTION_DAYS = 0  # keep forever
    assert retention.snapshots_purge_expired().as_dict() == {}
    assert FingerprintEvent.objects.filter(raw={}).count() == 0
    with pytest.raises(CommandError, match="invalid_retention"):
        call_command("purge_snapshots", days=-1, no_progress=True, stdout=io.StringIO())
    with pytest.raises(CommandError, match="invalid_batch_size"):
        call_command("purge_snapshots", batch_size=0, no_progress=True, stdout=io.StringIO())
    call_command("purge_snapshots", days=30, no_progress=True, stdout=io.StringIO())
    assert FingerprintEvent.objects.filter(raw={}).count() == 4


def test_beat_runs_the_purge_daily_as_a_task(attempts):
    from fpdjango.celery import app as celery_app
    from risk import tasks

    entry = celery_app.conf.beat_schedule["purge-expired-snapshots"]
    assert entry["task"] == tasks.snapshots_purge_task.name and entry["schedule"] == 86_400
    # no broker in unit tests: the task runs inline, and does what the command does
    assert tasks.snapshots_purge_task.delay().get()["events_stripped"] == 4
    assert FingerprintEvent.objects.filter(raw={}).count() == 4
