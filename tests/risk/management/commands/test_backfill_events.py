"""manage.py backfill_events against the sandbox over real HTTP."""

import io
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from risk.models import (
    BackfillCheckpoint,
    Device,
    FingerprintEvent,
    ReviewDecision,
    SignupAttempt,
    UnknownEvent,
)
from risk.services import backfill_missing
from risk.shared_limits import api_limiter
from tests.conftest import SANDBOX_KEY
from tests.support import ROOT
from tests.support.outage import outage_signups
from tests.support.redis_celery import limiter_budget_start, limiter_slots_taken
from tests.support.workers import worker_env

User = get_user_model()


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command("backfill_events", *args, no_progress=True, stdout=out, **options)
    return out.getvalue()


def summary(output: str) -> dict[str, int]:
    return {
        name: int(count)
        for name, count in (line.split() for line in output.splitlines()[1:] if line.strip())
    }


def db_state():
    return {
        "events": sorted(FingerprintEvent.objects.values_list("event_id", "device_id", "raw")),
        "attempts": sorted(
            SignupAttempt.objects.values_list(
                "pk", "fingerprint_event_id", "device_id", "visitor_id", "claimed_event_id"
            )
        ),
        "devices": sorted(
            Device.objects.values_list("visitor_id", "account_count", "attempt_count")
        ),
        "users": sorted(User.objects.values_list("username", "is_active")),
    }


@pytest.mark.django_db
def test_outage_then_backfill_verifies_every_attempt_with_the_rules(sandbox, settings):
    events = outage_signups(sandbox, settings, 4)
    attempts = SignupAttempt.objects.order_by("pk")
    assert all(a.reasons == ["fingerprint_unavailable"] for a in attempts)
    assert set(attempts.values_list("decision", flat=True)) == {"unverified"}
    assert not attempts.filter(fingerprint_event__isnull=False).exists()

    output = run(rps=0)

    assert "verified_allow" in output
    for attempt, event in zip(SignupAttempt.objects.order_by("pk"), events, strict=True):
        visitor = event["identification"]["visitor_id"]
        assert attempt.fingerprint_event.event_id == event["event_id"]
        assert attempt.fingerprint_event.raw == event
        assert attempt.device.visitor_id == visitor and attempt.visitor_id == visitor
        assert attempt.claimed_event_id == event["event_id"]  # a reuse is now refused
        assert attempt.account.is_active
        assert (attempt.device.account_count, attempt.device.attempt_count) == (1, 1)
    # Decided by the live rules (clean humans: allowed), each with an audit row.
    assert set(attempts.values_list("decision", flat=True)) == {"allow"}
    assert ReviewDecision.objects.filter(action="verify", actor=None).count() == 4
    assert not BackfillCheckpoint.objects.exists()

    before = db_state()
    fetches = sandbox.stats()["requests"].get("v4_get_event", 0)
    run(rps=0)  # idempotent: nothing left to fetch, nothing counted twice
    assert db_state() == before
    assert sandbox.stats()["requests"].get("v4_get_event", 0) == fetches


@pytest.mark.django_db
def test_an_account_whose_signup_lacks_its_snapshot_is_linked_and_counted_once(sandbox):
    event = sandbox.create_event()
    user = User.objects.create_user(username="legacy")
    attempt = SignupAttempt.objects.create(
        username="legacy", event_id=event["event_id"], decision="allow", account=user
    )
    run(rps=0, workers=3)
    attempt.refresh_from_db()
    assert attempt.device.visitor_id == event["identification"]["visitor_id"]
    assert attempt.device.account_count == 1
    assert FingerprintEvent.objects.filter(event_id=event["event_id"]).count() == 1
    run(rps=0)
    assert Device.objects.get(pk=attempt.device_id).account_count == 1


@pytest.mark.django_db
def test_still_unavailable_exits_non_zero_and_unknown_ids_are_reported(sandbox, settings):
    settings.FINGERPRINT_MAX_RETRIES = 0
    event = sandbox.create_event()
    for username, event_id in (("a", event["event_id"]), ("b", "1700000000000.forged")):
        SignupAttempt.objects.create(
            username=username, event_id=event_id, decision="review",
            reasons=["fingerprint_unavailable"],
        )  # fmt: skip
    sandbox.set_faults(target="events", status=503)
    with pytest.raises(CommandError, match="could not be fetched"):
        run(rps=0)
    assert not FingerprintEvent.objects.exists()
    sandbox.clear_faults()
    output = run(rps=0)  # the next run retries both
    assert FingerprintEvent.objects.filter(event_id=event["event_id"]).exists()
    assert summary(output)["not_found"] == 1
    assert UnknownEvent.objects.filter(event_id="1700000000000.forged").exists()


@pytest.mark.django_db
def test_ids_resolved_as_not_found_are_never_fetched_again(sandbox):
    SignupAttempt.objects.create(
        username="a", event_id="1700000000000.forged", decision="review",
        reasons=["fingerprint_unavailable"],
    )  # fmt: skip
    # Refused as not found at signup time: already resolved, never fetched.
    SignupAttempt.objects.create(
        username="b", event_id="1700000000000.forge2", decision="deny", reasons=["event_not_found"]
    )
    SignupAttempt.objects.create(
        username="c",
        event_id="1700000000000.forge3",
        decision="allow",
        account=User.objects.create_user(username="c"),
    )
    gets = lambda: sandbox.stats()["requests"].get("v4_get_event", 0)  # noqa: E731
    before = gets()
    assert summary(run(rps=0))["not_found"] == 2
    assert gets() - before == 2
    assert summary(run(rps=0)) == {}  # the second run asks nothing
    assert gets() - before == 2
    assert backfill_missing.missing_events_count() == {"attempts": 0}


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_makes_no_calls(sandbox, settings):
    outage_signups(sandbox, settings, 2)
    before = db_state()
    calls = sandbox.stats()["requests"]
    output = run(dry_run=True)
    assert "would_verify_signups" in output
    assert db_state() == before
    assert sandbox.stats()["requests"]["v4_get_event"] == calls["v4_get_event"]


@pytest.mark.django_db
def test_rps_budget_is_honoured_across_worker_threads(sandbox, redis_settings):
    """Four threads fetch; every fetch draws its slot from the one shared budget at --rps (what
    it costs in time is the limiter's own test, tests/risk/test_shared_limits.py)."""
    n, rps = 12, 8.0
    ids = sandbox.bulk_events(n)
    for event_id in ids:
        SignupAttempt.objects.create(username="x", event_id=event_id, decision="review")
    before = sandbox.stats()["requests"].get("v4_get_event", 0)
    budget = api_limiter("backfill", rps)
    since = limiter_budget_start(budget)
    run(rps=rps, workers=4, batch_size=5)
    assert sandbox.stats()["requests"]["v4_get_event"] - before == n  # each event once
    assert FingerprintEvent.objects.filter(event_id__in=ids).count() == n
    assert not SignupAttempt.objects.filter(fingerprint_event__isnull=True).exists()
    assert limiter_slots_taken(budget, since) >= n  # every fetch took its slot


@pytest.mark.django_db
def test_search_range_upserts_and_links(sandbox):
    # Three days ago, so events other tests create "now" stay out of the window.
    ids = sandbox.bulk_events(250, visitors=10, age_s=3 * 86400, spread_s=60)
    since = (datetime.now(UTC) - timedelta(days=3, minutes=5)).isoformat()
    until = (datetime.now(UTC) - timedelta(days=3) + timedelta(minutes=5)).isoformat()
    waiting = SignupAttempt.objects.create(username="w", event_id=ids[7], decision="review")
    output = run(since=since, until=until, rps=0)
    assert FingerprintEvent.objects.filter(event_id__in=ids).count() == 250
    assert Device.objects.count() == 10
    waiting.refresh_from_db()
    assert waiting.fingerprint_event.event_id == ids[7] and waiting.device is not None
    assert "events_stored" in output
    before = db_state()
    run(since=since, until=until, rps=0)  # a second pull changes nothing
    assert db_state() == before


@pytest.mark.django_db
def test_bad_options_are_refused():
    with pytest.raises(CommandError, match="need --since"):
        run(until="2026-01-01")
    with pytest.raises(CommandError, match="invalid_time"):
        run(since="yesterday-ish")
    with pytest.raises(CommandError, match="invalid_range"):
        run(since="2026-01-02", until="2026-01-01")


# --- interrupted runs: a real process, killed ----------------------------------------------


def _subprocess_env(sandbox_url: str) -> dict:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        url = f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fpdjango.test_settings",
        "DATABASE_URL": url,
        "FINGERPRINT_API_URL": sandbox_url,
        "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY,
    }


def _start(sandbox_url: str, *args: str) -> subprocess.Popen:
    # A shell starts a background job (`.ci/run &`) with SIGINT ignored, and a child inherits
    # that: the Ctrl-C test would then be ignored. A handled signal is reset to its default in
    # the child, so handle it here while starting the command.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(
            [sys.executable, "manage.py", "backfill_events", "--no-progress", *args],
            cwd=ROOT,
            env=_subprocess_env(sandbox_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        assert time.monotonic() < deadline, "timed out waiting for progress"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_killed_run_resumes_without_duplicates(sandbox, sandbox_server):
    n = 60
    ids = sandbox.bulk_events(n)
    for i, event_id in enumerate(ids):
        user = User.objects.create_user(username=f"u{i}")
        SignupAttempt.objects.create(
            username=user.username, event_id=event_id, decision="review", account=user,
            reasons=["fingerprint_unavailable"],
        )  # fmt: skip
    fetches_before = sandbox.stats()["requests"].get("v4_get_event", 0)
    proc = _start(sandbox_server.url, "--rps", "25", "--batch-size", "5")
    _wait_for(lambda: FingerprintEvent.objects.count() >= 20, proc)
    proc.send_signal(signal.SIGKILL)  # a crash: no cleanup code runs
    proc.wait()
    done_at_kill = FingerprintEvent.objects.count()
    assert 20 <= done_at_kill < n
    checkpoint = BackfillCheckpoint.objects.get(name=backfill_missing.CHECKPOINT)
    assert checkpoint.state["after"] > 0

    fetches_first = sandbox.stats()["requests"]["v4_get_event"] - fetches_before
    run(rps=0)

    assert FingerprintEvent.objects.count() == n
    assert not SignupAttempt.objects.filter(fingerprint_event__isnull=True).exists()
    assert Device.objects.count() == n
    assert set(Device.objects.values_list("account_count", "attempt_count")) == {(1, 1)}
    assert not BackfillCheckpoint.objects.exists()
    # Resumed from the checkpoint: the second run fetched only what the first had not stored
    # (at most the batch in flight at the kill again), not all n.
    fetches_second = sandbox.stats()["requests"]["v4_get_event"] - fetches_before - fetches_first
    assert fetches_second <= n - done_at_kill + 5


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_in_search_mode_resumes_from_the_pagination_key(sandbox, sandbox_server):
    ids = sandbox.bulk_events(1000, visitors=50, age_s=5 * 86400, spread_s=600)
    now = datetime.now(UTC)
    window = [
        "--since", (now - timedelta(days=5, hours=1)).isoformat(),
        "--until", (now - timedelta(days=5) + timedelta(hours=1)).isoformat(),
    ]  # fmt: skip
    searches_before = sandbox.stats()["requests"].get("v4_search", 0)
    proc = _start(sandbox_server.url, *window, "--rps", "3")
    _wait_for(lambda: FingerprintEvent.objects.count() >= 300, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0 and "interrupted" in err
    stored_at_stop = FingerprintEvent.objects.count()
    assert 300 <= stored_at_stop < 1000
    searches_first = sandbox.stats()["requests"]["v4_search"] - searches_before

    run(since=window[1], until=window[3], rps=0)

    assert FingerprintEvent.objects.filter(event_id__in=ids).count() == 1000
    assert FingerprintEvent.objects.count() == 1000
    assert Device.objects.count() == 50
    searches_second = sandbox.stats()["requests"]["v4_search"] - searches_before - searches_first
    assert searches_second <= 10 - stored_at_stop // 100 + 1  # 100 events a page


@pytest.mark.django_db
def test_a_relative_since_resumes_its_first_range(sandbox, crash_after_batches):
    visitor = "RelativeResume000001"
    ids = sandbox.bulk_events(250, visitor_id=visitor, age_s=6 * 86400, spread_s=3600)
    searches = lambda: sandbox.stats()["requests"].get("v4_search", 0)  # noqa: E731
    crash_after_batches(1)
    with pytest.raises(CommandError, match="interrupted"):
        run(since="7d", until="5d", visitor=visitor, rps=0)
    (checkpoint,) = BackfillCheckpoint.objects.filter(name__contains=visitor)
    assert checkpoint.name == f"backfill_events:search:7d:5d:{visitor}"
    assert FingerprintEvent.objects.count() == 100
    from risk.services.jobs import batch_committed

    batch_committed.disconnect(dispatch_uid="crash_after_batches")
    before = searches()
    time.sleep(0.01)  # "7d" now resolves to a later moment; the stored range is used
    run(since="7d", until="5d", visitor=visitor, rps=0)
    assert searches() - before == 2  # pages 2 and 3 only, not a restart from page 1
    assert FingerprintEvent.objects.filter(event_id__in=ids).count() == 250
    assert not BackfillCheckpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_backfill_events_workers_spreads_chunks_over_celery(
    celery_broker, celery_worker_factory, sandbox, sandbox_server
):

    events = outage_signups(sandbox, celery_broker, 12)
    assert SignupAttempt.objects.filter(fingerprint_event__isnull=True).count() == 12
    celery_worker_factory(extra_env=worker_env(sandbox_server))
    celery_worker_factory(extra_env=worker_env(sandbox_server))
    fetches = sandbox.stats()["requests"].get("v4_get_event", 0)
    out = io.StringIO()
    call_command("backfill_events", workers=2, batch_size=2, rps=0, no_progress=True, stdout=out)
    assert "enqueued" in out.getvalue()
    assert SignupAttempt.objects.filter(fingerprint_event__isnull=True).count() == 0
    stored = FingerprintEvent.objects.filter(event_id__in=[e["event_id"] for e in events])
    assert stored.count() == 12
    assert sandbox.stats()["requests"].get("v4_get_event", 0) - fetches == 12  # each once
    # Running it again finds nothing to do and changes nothing.
    call_command("backfill_events", workers=2, rps=0, no_progress=True, stdout=io.StringIO())
    assert FingerprintEvent.objects.count() == 12
