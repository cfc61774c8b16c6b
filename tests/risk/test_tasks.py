"""Celery tasks: wiring in eager mode (unit), and real work done by a real worker subprocess."""

import pytest
from celery.exceptions import MaxRetriesExceededError
from django.core.cache import cache
from rest_framework.test import APIClient

from fpdjango.celery import app as celery_app
from risk import tasks
from risk.models import Device, ReviewDecision, SignupAttempt
from tests.support.outage import outage_signups
from tests.support.redis_celery import wait_until
from tests.support.workers import worker_env

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager retries run in place (as a worker would run them later) instead of raising Retry.
    (Keys carry the CELERY_ namespace: the app reads its config from Django's settings.)"""
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_EAGER_PROPAGATES", False)


def event_fetches(sandbox) -> int:
    return sandbox.stats()["requests"].get("v4_get_event", 0)


def test_beat_runs_the_verification_periodically(settings):
    entry = celery_app.conf.beat_schedule["verify-unverified-signups"]
    assert entry["task"] == tasks.attempts_verify_due_task.name
    assert entry["schedule"] == float(settings.VERIFY_UNVERIFIED_EVERY_S)
    assert tasks.attempts_verify_due_task.name in celery_app.tasks


def test_backoff_grows_and_is_capped():
    assert [tasks.backoff_s(n) for n in range(4)] == [15, 30, 60, 120]
    assert tasks.backoff_s(20) == 600


@pytest.mark.django_db
def test_verification_retries_while_fingerprint_is_down(sandbox, settings, eager_retries):
    """Two signups accepted during an outage; the sandbox still answers 500 twice: the task
    retries (one fetch per run, each stopping at the first `unavailable`) until both verify."""
    outage_signups(sandbox, settings, 2)
    sandbox.set_faults(target="events", status=500, count=2)
    before = event_fetches(sandbox)
    result = tasks.attempts_verify_due_task.delay(limit=50).get()
    assert result == {"allow": 2}
    assert event_fetches(sandbox) - before == 4  # 2 failed runs, then both events
    assert set(SignupAttempt.objects.values_list("decision", flat=True)) == {"allow"}
    assert ReviewDecision.objects.filter(action="verify").count() == 2
    assert cache.get(tasks.VERIFY_LOCK_KEY) is None  # released


@pytest.mark.django_db
def test_verification_gives_up_after_max_retries(sandbox, settings, eager_retries):
    outage_signups(sandbox, settings, 1)
    sandbox.set_faults(target="events", status=500)  # down for good
    before = event_fetches(sandbox)
    with pytest.raises(MaxRetriesExceededError):
        tasks.attempts_verify_due_task.delay().get()
    assert event_fetches(sandbox) - before == tasks.attempts_verify_due_task.max_retries + 1
    assert SignupAttempt.objects.get().decision == "unverified"


@pytest.mark.django_db
def test_verification_runs_once_at_a_time(sandbox, settings):
    outage_signups(sandbox, settings, 1)
    cache.add(tasks.VERIFY_LOCK_KEY, 1, timeout=60)  # another worker is on it
    before = event_fetches(sandbox)
    assert tasks.attempts_verify_due_task.delay().get() == {"skipped_running": 1}
    assert event_fetches(sandbox) == before
    assert SignupAttempt.objects.get().decision == "unverified"


@pytest.mark.django_db
def test_without_a_broker_deferred_drn_lookups_wait_for_backfill_drn(settings, sandbox):
    settings.FINGERPRINT_DRN_SIGNUP_BUDGET_S = 0
    event = sandbox.create_event("android", ip="127.0.0.1")
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "droid-nobroker", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 201
    device = Device.objects.get(visitor_id=event["identification"]["visitor_id"])
    assert device.drn_lookup_pending  # inline would wait past the budget: backfill_drn does it


@pytest.mark.django_db(transaction=True)
def test_worker_does_the_drn_lookup_a_signup_deferred(
    celery_broker, celery_worker_factory, sandbox, sandbox_server
):
    celery_broker.FINGERPRINT_DRN_SIGNUP_BUDGET_S = 0  # every Android lookup is deferred
    celery_worker_factory(extra_env=worker_env(sandbox_server))
    event = sandbox.create_event("android", ip="127.0.0.1")
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "droid-deferred", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 201, response.json()
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.drn_snapshot is None and attempt.device.drn_lookup_pending

    def done():
        attempt.refresh_from_db()
        return attempt.drn_snapshot_id is not None

    assert wait_until(done, timeout=30), "the worker did not do the deferred lookup"
    assert attempt.drn_snapshot.status == "ok"
    attempt.device.refresh_from_db()
    assert attempt.device.drn_lookup_pending is False


@pytest.mark.django_db
def test_deferred_lookup_already_done_is_not_repeated(sandbox):
    from tests.conftest import drn_calls

    device = Device.objects.create(visitor_id="done-already", platform="android")
    before = drn_calls(sandbox)
    assert tasks.drn_lookup_task.delay(device.pk).get() == "done"
    assert drn_calls(sandbox) == before


@pytest.mark.django_db(transaction=True)
def test_worker_verifies_signups_accepted_while_fingerprint_was_down(
    celery_broker, celery_worker_factory, sandbox, sandbox_server
):
    """The real verification on a real worker: unverified signups are decided by the live
    rules once Fingerprint answers again, with an audit row each."""

    outage_signups(sandbox, celery_broker, 3)
    assert SignupAttempt.objects.filter(decision="unverified").count() == 3
    celery_worker_factory(extra_env=worker_env(sandbox_server))
    result = tasks.attempts_verify_due_task.delay(limit=10)
    assert result.get(timeout=60) == {"allow": 3}
    assert SignupAttempt.objects.filter(decision="allow").count() == 3
    assert set(SignupAttempt.objects.values_list("account__is_active", flat=True)) == {True}
    assert ReviewDecision.objects.filter(action="verify", actor=None).count() == 3
