"""Verify later: signups accepted while Fingerprint was down are decided by the live rules
once it answers (sandbox over real HTTP, real database)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from risk.models import Device, ReviewDecision, SignupAttempt
from risk.services.review import ReviewError, review_decide
from risk.services.verification import attempt_verify, attempts_verify_due
from tests.support.review import make_reviewer

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def outage(sandbox, settings):
    settings.FINGERPRINT_MAX_RETRIES = 0
    settings.FINGERPRINT_FAILURE_POLICY = "review"
    return sandbox


def post(event_id, username, ip="127.0.0.1"):
    return APIClient(REMOTE_ADDR=ip).post(
        "/api/signup",
        {"event_id": event_id, "username": username, "password": PASSWORD},
        format="json",
    )


def unverified_signup(sandbox, event_id, username, ip="127.0.0.1"):
    sandbox.set_faults(target="events", status=503)
    response = post(event_id, username, ip=ip)
    sandbox.clear_faults()
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    attempt = SignupAttempt.objects.get(username=username)
    assert attempt.decision == "unverified" and not attempt.account.is_active
    return attempt


def test_a_clean_signup_is_activated_with_an_audit_row(outage):
    event = outage.create_event(ip="127.0.0.1")
    attempt = unverified_signup(outage, event["event_id"], "carol")
    assert attempt_verify(attempt_id=attempt.pk) == "allow"
    attempt.refresh_from_db()
    assert attempt.decision == "allow" and attempt.account.is_active
    assert attempt.device.visitor_id == event["identification"]["visitor_id"]
    assert attempt.device.account_count == 1 and attempt.fingerprint_event.raw == event
    row = ReviewDecision.objects.get()
    assert (row.action, row.reason, row.actor, row.attempt) == (
        "verify",
        "verified_allow",
        None,
        attempt,
    )
    assert attempt_verify(attempt_id=attempt.pk) == "skipped"  # once only


def test_an_event_without_identification_is_denied_without_a_device(outage):
    event = outage.create_event(ip="127.0.0.1", overrides={"identification": {"visitor_id": ""}})
    assert event["identification"]["visitor_id"] == ""
    attempt = unverified_signup(outage, event["event_id"], "nobody")
    assert attempt_verify(attempt_id=attempt.pk) == "deny"
    attempt.refresh_from_db()
    assert "no_identification" in attempt.reasons and attempt.device is None
    assert not Device.objects.filter(visitor_id="").exists()
    assert not attempt.account.is_active


def test_a_made_up_event_id_is_rejected_automatically(outage):
    attempt = unverified_signup(outage, "1700000000000.mAdeUp", "mallory")
    assert attempts_verify_due() == {"not_found": 1}
    attempt.refresh_from_db()
    assert attempt.decision == "deny" and attempt.reasons == ["event_not_found"]
    assert attempt.review_status == "rejected" and not attempt.account.is_active
    assert ReviewDecision.objects.get().reason == "event_not_found"


def test_a_made_up_id_backs_one_unverified_account_at_most(outage):
    unverified_signup(outage, "1700000000000.mAdeUp", "mallory1")
    outage.set_faults(target="events", status=503)
    again = post("1700000000000.mAdeUp", "mallory2")
    assert again.status_code == 403
    assert User.objects.filter(username="mallory2").count() == 0


def test_the_device_limit_is_applied_when_verified(outage, settings):
    """A farm device that signed up during an outage is denied when verified, and its
    accounts are not counted on the device."""
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = 2
    first = outage.create_event(ip="127.0.0.1")
    visitor = first["identification"]["visitor_id"]
    assert post(first["event_id"], "farm0").status_code == 201
    second = outage.create_event(ip="127.0.0.1", visitor_id=visitor)
    assert post(second["event_id"], "farm1").json()["status"] == "pending_review"  # held
    events = [outage.create_event(ip="127.0.0.1", visitor_id=visitor) for _ in range(3)]
    attempts = [unverified_signup(outage, e["event_id"], f"late{i}") for i, e in enumerate(events)]
    assert attempts_verify_due() == {"deny": 3}
    for attempt in attempts:
        attempt.refresh_from_db()
        assert attempt.decision == "deny" and "device_limit_hard" in attempt.reasons
        assert not attempt.account.is_active
    assert Device.objects.get(visitor_id=visitor).account_count == 2


def test_a_stolen_event_id_is_denied_and_does_not_raise_the_victims_count(outage):
    event = outage.create_event(ip="127.0.0.1")
    assert post(event["event_id"], "victim").status_code == 201
    # The attacker replays the victim's id while Fingerprint is down: the id is already
    # claimed by the victim's attempt, so it cannot even be accepted unverified.
    outage.set_faults(target="events", status=503)
    assert post(event["event_id"], "attacker").status_code == 403
    outage.clear_faults()
    assert Device.objects.get().account_count == 1
    assert not User.objects.filter(username="attacker").exists()


def test_a_held_signup_joins_the_queue_and_cannot_be_approved_before(outage):
    event = outage.create_event("tor", ip="127.0.0.1")
    attempt = unverified_signup(outage, event["event_id"], "onion")
    reviewer = make_reviewer()
    with pytest.raises(ReviewError) as refused:
        review_decide(actor=reviewer, action="approve", reason="legitimate_user", attempt=attempt)
    assert refused.value.code == "unverified" and not User.objects.get(username="onion").is_active
    assert attempt_verify(attempt_id=attempt.pk) == "review"
    attempt.refresh_from_db()
    assert attempt.review_status == "pending" and "tor" in attempt.reasons
    review_decide(actor=reviewer, action="approve", reason="legitimate_user", attempt=attempt)
    assert User.objects.get(username="onion").is_active


def test_still_unavailable_leaves_everything_for_the_next_run(outage):
    homes = [f"73.45.7.{i + 1}" for i in range(3)]  # three people, three homes
    events = [outage.create_event(ip=ip) for ip in homes]
    for i, (event, ip) in enumerate(zip(events, homes, strict=True)):
        unverified_signup(outage, event["event_id"], f"wait{i}", ip=ip)
    outage.set_faults(target="events", status=503)
    assert attempts_verify_due() == {"unavailable": 1}  # stops at the first: no hammering
    assert SignupAttempt.objects.filter(decision="unverified").count() == 3
    assert ReviewDecision.objects.count() == 0
    outage.clear_faults()
    out = io.StringIO()
    call_command("verify_signups", stdout=out)
    assert "allow" in out.getvalue() and SignupAttempt.objects.filter(decision="allow").count() == 3
