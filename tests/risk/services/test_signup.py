"""risk/services/signup.py: fetching the event on the signup path (bounded upstream use), and the
decision's writes."""

import logging

import pytest
from rest_framework.test import APIClient

from risk.models import SignupAttempt

pytestmark = pytest.mark.django_db


PASSWORD = "correct-horse-battery-9"


def post(event_id, username="bounded", path="/api/signup", field="event_id"):
    return APIClient(REMOTE_ADDR="127.0.0.1").post(
        path, {field: event_id, "username": username, "password": PASSWORD}, format="json"
    )


def event_calls(control) -> int:
    return control.stats()["requests"].get("v4_get_event", 0)


def test_signup_never_retries_a_429_and_logs_our_quota(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 3
    settings.FINGERPRINT_FAILURE_POLICY = "review"
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=429)
    before = event_calls(sandbox)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        response = post(event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    assert event_calls(sandbox) - before == 1  # one call, no retry
    attempt = SignupAttempt.objects.get()
    assert attempt.fingerprint_error.startswith("quota:")
    quota_logs = [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]
    assert [r.fingerprint_error_kind for r in quota_logs] == ["quota_exhausted"]
    assert quota_logs[0].levelno == logging.ERROR
    assert "quota exhausted" in quota_logs[0].getMessage()


def test_signup_still_retries_a_5xx_within_the_budget(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 2
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=503, count=1)
    before = event_calls(sandbox)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        response = post(event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "created"
    assert event_calls(sandbox) - before == 2
    assert not [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]


def test_fingerprint_down_is_not_logged_as_quota(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 0
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=500)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        post(event["event_id"])
    assert not [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]
    assert not SignupAttempt.objects.get().fingerprint_error.startswith("quota:")
