"""Upstream values that used to give 500s: huge DRN scores, NaN/Infinity, overlong visitor ids.
Fingerprint and DRN are the sandbox over real HTTP; run on PostgreSQL too (jsonb, int4)."""

import io
import json
import math

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from risk.models import Device, DrnSnapshot, FingerprintEvent, SignupAttempt
from tests.support.webhooks import SECRET, post, sign

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"
INT32_MAX = 2**31 - 1


def signup(event_id, username="hostile"):
    return APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event_id, "username": username, "password": PASSWORD},
        format="json",
    )


def control_post(sandbox, path: str, body: dict) -> dict:
    """The control API with Python's own JSON (NaN, Infinity): `requests` refuses to send it."""
    response = sandbox.session.post(
        sandbox.base_url + path,
        data=json.dumps(body),  # allow_nan=True is json's default
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return json.loads(response.text)


def huge_scores(value: int) -> dict:
    return {
        "suspect_score": {
            "minimum": {"value": value, "signals": {}},
            "maximum": {"value": value * 2, "percentile": 0.95, "signals": {}},
        }
    }


@pytest.mark.parametrize("value", [2**31, 2**40])
def test_huge_drn_scores_are_clamped_at_signup(sandbox, value):
    event = sandbox.create_event("android", ip="127.0.0.1")
    sandbox.seed_drn(event["identification"]["visitor_id"], **huge_scores(value))
    response = signup(event["event_id"])
    assert response.status_code == 201, response.json()
    snapshot = DrnSnapshot.objects.get()
    assert snapshot.status == "ok"
    assert snapshot.min_suspect_score == snapshot.max_suspect_score == INT32_MAX
    # The exact answer is kept as evidence.
    assert snapshot.raw["data"]["suspectScore"]["maximum"]["value"] == value * 2


def test_backfill_drn_stores_huge_scores_and_moves_on(sandbox, settings):
    settings.FINGERPRINT_DRN_RPS = 100
    event = sandbox.create_event("android", age_s=86_400)
    visitor = event["identification"]["visitor_id"]
    sandbox.seed_drn(visitor, **huge_scores(2**35))
    device = Device.objects.create(visitor_id=visitor, platform="android", drn_lookup_pending=True)
    call_command("backfill_drn", no_progress=True, stdout=io.StringIO())
    device.refresh_from_db()
    assert device.drn_lookup_pending is False
    assert DrnSnapshot.objects.get(device=device).max_suspect_score == INT32_MAX


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("policy", "status"), [("review", 201), ("deny", 503)])
def test_nan_or_infinity_in_an_event_is_a_bad_upstream_answer(
    sandbox, settings, number, policy, status
):
    settings.FINGERPRINT_FAILURE_POLICY = policy
    # The sandbox stores and serves the event as Python's json writes it: NaN, Infinity.
    overrides = {"identification": {"confidence": {"score": number}}}
    event = control_post(
        sandbox, "/_sandbox/events", {"profile": "human", "ip": "127.0.0.1", "overrides": overrides}
    )
    served = sandbox.session.get(f"{sandbox.base_url}/_sandbox/events/{event['event_id']}")
    assert any(token in served.text for token in ("NaN", "Infinity"))
    response = signup(event["event_id"])
    assert response.status_code == status, response.content
    attempt = SignupAttempt.objects.get()
    assert attempt.reasons == ["fingerprint_unavailable"]
    assert "non-standard JSON" in attempt.fingerprint_error
    assert FingerprintEvent.objects.count() == 0


def test_nan_in_a_drn_answer_is_an_error_snapshot_not_a_500(sandbox):
    event = sandbox.create_event("android", ip="127.0.0.1")
    control_post(
        sandbox,
        f"/_sandbox/drn/{event['identification']['visitor_id']}",
        {"suspect_score": {"maximum": {"value": 3, "percentile": math.nan, "signals": {}}}},
    )
    response = signup(event["event_id"])
    assert response.status_code == 201, response.json()
    snapshot = DrnSnapshot.objects.get()
    assert snapshot.status == "error" and "non-standard JSON" in snapshot.error
    assert Device.objects.get().drn_lookup_pending is True


def test_overlong_visitor_id_from_the_api_is_a_malformed_event(sandbox):
    event = sandbox.create_event("human", ip="127.0.0.1", visitor_id="v" * 65)
    response = signup(event["event_id"])
    assert response.status_code == 201  # policy review: held, never a 500
    attempt = SignupAttempt.objects.get()
    assert attempt.reasons == ["fingerprint_unavailable"]
    assert "longer than 64" in attempt.fingerprint_error
    assert Device.objects.count() == 0 and FingerprintEvent.objects.count() == 0


def test_visitor_id_of_64_characters_is_fine(sandbox):
    event = sandbox.create_event("human", ip="127.0.0.1", visitor_id="v" * 64)
    assert signup(event["event_id"]).status_code == 201
    assert Device.objects.get().visitor_id == "v" * 64


@pytest.mark.parametrize(
    "payload",
    [
        {"event_id": "1700000000000.abcdef", "identification": {"visitor_id": "v" * 65}},
        {"event_id": "1700000000000.abcdef", "timestamp": math.nan},
        {"event_id": "1" * 65},
    ],
)
def test_signed_webhook_with_hostile_values_is_400(settings, payload):
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    body = json.dumps(payload).encode()
    response = post(body, sign(body))
    assert response.status_code == 400 and response.json()["code"] == "invalid_event"
    assert FingerprintEvent.objects.count() == 0 and Device.objects.count() == 0
