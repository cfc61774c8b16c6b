"""risk/services/drn.py: drn_lookup and friends, real HTTP to the sandbox, real database."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from risk.models import Device, DrnSnapshot, SignupAttempt
from risk.selectors import devices_drn_due
from risk.services.drn import drn_lookup
from tests.conftest import drn_calls, settle
from tests.support.drn import MASKED, SCORES, android_device

pytestmark = pytest.mark.django_db


def test_lookup_stores_snapshot_with_columns(sandbox):
    device = android_device(
        sandbox,
        regional_activity=MASKED,
        suspect_score=SCORES,
        first_seen_at="2026-01-02T03:04:00Z",
    )
    Device.objects.filter(pk=device.pk).update(drn_lookup_pending=True)
    device.refresh_from_db()
    snapshot = drn_lookup(device=device)
    snapshot.refresh_from_db()
    assert snapshot.status == "ok" and snapshot.error == ""
    assert snapshot.visitor_id == device.visitor_id
    assert set(snapshot.raw["data"]) == {"regionalActivity", "suspectScore", "timestamps"}
    assert snapshot.countries == [
        {"code": "RU", "ip": 0.0, "origin": 1.0},
        {"code": "US", "ip": 0.6, "origin": 0.0},
        {"code": "CA", "ip": 0.4, "origin": 0.0},
    ]
    assert snapshot.location_masked is True
    assert (snapshot.min_suspect_score, snapshot.max_suspect_score) == (3, 25)
    assert snapshot.max_percentile == 0.95
    assert snapshot.first_seen_at == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert snapshot.last_seen_at is not None
    assert snapshot.device_age_at_signup is None  # no attempt given
    device.refresh_from_db()
    assert device.drn_lookup_pending is False  # success clears the flag


def test_cache_then_force(sandbox, settings):
    settings.FINGERPRINT_DRN_CACHE_S = 3600
    device = android_device(sandbox)
    before = drn_calls(sandbox)
    first = drn_lookup(device=device)
    assert drn_lookup(device=device) == first  # cached: no call
    assert drn_calls(sandbox) - before == 1
    forced = drn_lookup(device=device, force=True)
    assert forced != first and forced.status == "ok"
    assert drn_calls(sandbox) - before == 2
    DrnSnapshot.objects.filter(device=device).update(fetched_at=timezone.now() - timedelta(hours=2))
    assert drn_lookup(device=device) not in (first, forced)  # expired: looked up again
    assert drn_calls(sandbox) - before == 3
    settings.FINGERPRINT_DRN_CACHE_S = 0
    drn_lookup(device=device)
    assert drn_calls(sandbox) - before == 4


@pytest.mark.parametrize("platform", ["js", "ios"])
def test_non_android_device_is_never_looked_up(sandbox, platform):
    profile = {"js": "human", "ios": "ios"}[platform]
    visitor = sandbox.create_event(profile)["identification"]["visitor_id"]
    device = Device.objects.create(visitor_id=visitor, platform=platform)
    before = drn_calls(sandbox)
    assert drn_lookup(device=device, force=True) is None
    assert drn_calls(sandbox) == before
    assert not DrnSnapshot.objects.filter(device=device).exists()


def test_device_without_platform_is_judged_by_its_events(sandbox):
    from risk.models import FingerprintEvent

    device = android_device(sandbox)
    Device.objects.filter(pk=device.pk).update(platform="")
    device.refresh_from_db()
    before = drn_calls(sandbox)
    assert drn_lookup(device=device) is None  # no Android event stored: not asked
    FingerprintEvent.objects.create(
        event_id="1.a", device=device, visitor_id=device.visitor_id, platform="android", raw={}
    )
    assert drn_lookup(device=device).status == "ok"
    assert drn_calls(sandbox) - before == 1


def test_failure_is_recorded_and_queued_then_cleared(sandbox):
    device = android_device(sandbox)
    sandbox.set_faults(target="drn", status=503)
    failed = drn_lookup(device=device, budget_s=0.5)
    assert failed.status == "error" and "503" in failed.error
    assert failed.max_percentile is None and failed.raw == {}
    device.refresh_from_db()
    assert device.drn_lookup_pending is True
    assert list(devices_drn_due(max_age=timedelta(days=30))) == [device]
    sandbox.clear_faults()
    # An error snapshot is not a cache hit: the next lookup asks DRN again.
    ok = drn_lookup(device=device)
    assert ok.status == "ok"
    device.refresh_from_db()
    assert device.drn_lookup_pending is False
    assert list(devices_drn_due(max_age=timedelta(days=30))) == []


def test_timeout_is_an_error_within_the_budget(sandbox):
    device = android_device(sandbox)
    sandbox.set_faults(target="drn", latency_ms=1500)
    before = drn_calls(sandbox)
    snapshot = drn_lookup(device=device, budget_s=0.3)
    settle(sandbox, calls_before=before)
    # Cut short at the budget, not at DRN's 1.5 s (the client's own test times it).
    assert snapshot.status == "error" and "did not answer within 0.3s" in snapshot.error
    device.refresh_from_db()
    assert device.drn_lookup_pending is True


def test_invalid_key_is_an_error_snapshot_with_a_clear_message(sandbox, settings):
    device = android_device(sandbox)
    settings.FINGERPRINT_SECRET_API_KEY = "wrong-key"
    settings.FINGERPRINT_DRN_API_URL = settings.FINGERPRINT_API_URL
    snapshot = drn_lookup(device=device)
    assert snapshot.status == "error"
    assert "401 secret_key_not_found" in snapshot.error and "wrong-key" not in snapshot.error


def test_unknown_to_drn_is_not_found_and_not_queued(sandbox):
    device = Device.objects.create(visitor_id="neverseenbydrn000000", platform="android")
    snapshot = drn_lookup(device=device)
    assert snapshot.status == "not_found"
    device.refresh_from_db()
    assert device.drn_lookup_pending is False


def test_attempt_gets_the_snapshot_and_device_age(sandbox):
    device = android_device(sandbox, first_seen_at="2026-01-01T00:00:00Z")
    attempt = SignupAttempt.objects.create(
        username="a", event_id="e1", device=device, decision="allow"
    )
    snapshot = drn_lookup(device=device, attempt=attempt)
    attempt.refresh_from_db()
    snapshot.refresh_from_db()
    assert attempt.drn_snapshot == snapshot
    assert snapshot.device_age_at_signup == attempt.created_at - snapshot.first_seen_at
    # Looking up again keeps the answered evidence of the signup on the attempt.
    again = drn_lookup(device=device, attempt=attempt, force=True)
    attempt.refresh_from_db()
    assert again != snapshot and attempt.drn_snapshot == snapshot


def test_attempt_with_a_failed_lookup_gets_the_later_answer(sandbox):
    device = android_device(sandbox)
    sandbox.set_faults(target="drn", status=500)
    attempt = SignupAttempt.objects.create(username="b", event_id="e2", device=device)
    failed = drn_lookup(device=device, attempt=attempt, budget_s=0.3)
    attempt.refresh_from_db()
    assert attempt.drn_snapshot == failed and failed.status == "error"
    sandbox.clear_faults()
    ok = drn_lookup(device=device, attempt=attempt)
    attempt.refresh_from_db()
    assert attempt.drn_snapshot == ok and ok.status == "ok"


# --- settings -------------------------------------------------------------------------------


# --- the panel template ---------------------------------------------------------------------
