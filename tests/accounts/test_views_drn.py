"""DRN at signup time, end to end: POST /api/signup, Fingerprint and DRN over real HTTP."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from risk.models import Device, DrnSnapshot, SignupAttempt
from tests.conftest import drn_calls, settle

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR="127.0.0.1")


def signup(api, event_id, username="droid"):
    return api.post(
        "/api/signup",
        {"event_id": event_id, "username": username, "password": PASSWORD},
        format="json",
    )


def android_signup_event(sandbox, *, known_for_days: float | None = 13, **seed) -> dict:
    """A fresh Android event; with `known_for_days`, the device has older history too (an odd
    age, off the round days other tests search the shared sandbox for)."""
    visitor = None
    if known_for_days:
        old = sandbox.create_event("android", age_s=known_for_days * 86_400, ip="127.0.0.1")
        visitor = old["identification"]["visitor_id"]
    event = sandbox.create_event("android", visitor_id=visitor, ip="127.0.0.1")
    if seed:
        sandbox.seed_drn(event["identification"]["visitor_id"], **seed)
    return event


def test_android_signup_stores_and_links_the_snapshot(api, sandbox):
    event = android_signup_event(sandbox)
    before = drn_calls(sandbox)
    response = signup(api, event["event_id"])
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "created"
    assert drn_calls(sandbox) - before == 1
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    snapshot = attempt.drn_snapshot
    assert snapshot is not None and snapshot.status == "ok"
    assert snapshot.device == attempt.device
    assert snapshot.visitor_id == event["identification"]["visitor_id"]
    assert set(snapshot.raw["data"]) == {"regionalActivity", "suspectScore", "timestamps"}
    age = snapshot.device_age_at_signup
    assert timedelta(days=13) - timedelta(minutes=2) < age < timedelta(days=13, minutes=2)
    assert attempt.decision == "allow" and attempt.reasons == []
    assert attempt.device.drn_lookup_pending is False


def test_brand_new_android_device_goes_to_review(api, sandbox):
    event = android_signup_event(sandbox, known_for_days=None)
    response = signup(api, event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.reasons == ["drn_new_device"]
    assert attempt.drn_snapshot.device_age_at_signup < timedelta(minutes=2)


def test_masked_location_and_top_percentile_go_to_review(api, sandbox):
    countries = [
        {"code": "US", "detectors": [{"type": "ip", "activityPercentage": 1.0}]},
        {"code": "RU", "detectors": [{"type": "origin", "activityPercentage": 1.0}]},
    ]
    event = android_signup_event(
        sandbox,
        regional_activity={"countries": countries},
        suspect_score={"maximum": {"value": 30, "percentile": 0.95, "signals": {"frida": 10}}},
    )
    response = signup(api, event["event_id"])
    assert response.json()["status"] == "pending_review"
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.reasons == ["drn_location_masked", "drn_high_percentile"]
    assert attempt.drn_snapshot.location_masked is True


def test_browser_signup_makes_no_drn_call(api, sandbox):
    event = sandbox.create_event("human", ip="127.0.0.1")
    before = drn_calls(sandbox)
    response = signup(api, event["event_id"], username="browser")
    assert response.status_code == 201
    assert drn_calls(sandbox) == before
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.drn_snapshot is None
    assert not DrnSnapshot.objects.exists()
    assert attempt.device.drn_lookup_pending is False


def test_slow_drn_never_slows_the_signup_beyond_its_budget(api, sandbox, settings):
    settings.FINGERPRINT_DRN_SIGNUP_BUDGET_S = 0.3
    event = android_signup_event(sandbox)
    signup(api, android_signup_event(sandbox)["event_id"], username="warmup")  # warm caches
    sandbox.set_faults(target="drn", latency_ms=2000)
    before = drn_calls(sandbox)
    response = signup(api, event["event_id"])
    settle(sandbox, calls_before=before)
    assert response.status_code == 201 and response.json()["status"] == "created"
    # The signup stopped waiting at its budget (DRN would have taken 2 s): the lookup is
    # recorded as cut short there. How long a cut-short lookup takes is the DRN client's test.
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.drn_snapshot.status == "error"
    assert "did not answer within 0.3s" in attempt.drn_snapshot.error
    assert attempt.decision == "allow"  # a missing DRN answer fires no rule
    device = Device.objects.get(pk=attempt.device_id)
    assert device.drn_lookup_pending is True  # queued for backfill_drn


def test_failing_drn_never_fails_the_signup(api, sandbox):
    event = android_signup_event(sandbox)
    sandbox.set_faults(target="drn", status=500)
    response = signup(api, event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "created"
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.drn_snapshot.status == "error"
    assert Device.objects.get(pk=attempt.device_id).drn_lookup_pending is True


def test_zero_budget_leaves_the_lookup_to_the_backfill(api, sandbox, settings):
    settings.FINGERPRINT_DRN_SIGNUP_BUDGET_S = 0
    event = android_signup_event(sandbox)
    before = drn_calls(sandbox)
    response = signup(api, event["event_id"])
    assert response.status_code == 201
    assert drn_calls(sandbox) == before
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.drn_snapshot is None
    assert attempt.device.drn_lookup_pending is True


def test_second_signup_from_the_device_uses_the_cached_snapshot(api, sandbox):
    first = android_signup_event(sandbox)
    assert signup(api, first["event_id"]).status_code == 201
    visitor = first["identification"]["visitor_id"]
    again = sandbox.create_event("android", visitor_id=visitor, ip="127.0.0.1")
    before = drn_calls(sandbox)
    response = signup(api, again["event_id"], username="droid2")
    assert response.status_code == 201  # held: the device's second account
    assert drn_calls(sandbox) == before
    attempts = SignupAttempt.objects.filter(visitor_id=visitor).order_by("pk")
    assert attempts[0].drn_snapshot_id == attempts[1].drn_snapshot_id is not None


def test_android_bad_bot_is_refused_without_a_drn_call(sandbox):
    before = sandbox.stats()["requests"].get("drn", 0)
    event = sandbox.create_event(profile="android", ip="127.0.0.1", overrides={"bot": "bad"})
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "droidbot", "password": "correct-horse-9x"},
        format="json",
    )
    assert response.status_code == 403
    assert sandbox.stats()["requests"].get("drn", 0) == before
