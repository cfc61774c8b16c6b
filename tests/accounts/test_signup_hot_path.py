"""What the refusal path no longer does, and that the answers did not change (issue 14)."""

import logging

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from risk.models import FingerprintEvent, SignupAttempt

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR="127.0.0.1")


def signup(api, event_id, username):
    body = {"event_id": event_id, "username": username, "password": PASSWORD}
    return api.post("/api/signup", body, format="json")


def event(sandbox, profile="human", **fields):
    return sandbox.create_event(profile=profile, ip="127.0.0.1", **fields)


def test_taken_username_is_400_and_writes_nothing(api, sandbox):
    assert signup(api, event(sandbox)["event_id"], "Alice").status_code == 201
    second = event(sandbox)  # another device that may have an account
    response = signup(api, second["event_id"], "aLICE")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["errors"]["username"][0]["code"] == "username_taken"
    # refused before anything: no attempt, no snapshot, no second user
    assert SignupAttempt.objects.count() == 1 and User.objects.count() == 1
    assert not FingerprintEvent.objects.filter(event_id=second["event_id"]).exists()
    # and the same event can still be used with a free username
    assert signup(api, second["event_id"], "alice-2").status_code == 201


def test_refusals_are_not_logged_per_request_but_other_4xx_are(api, sandbox, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    assert signup(api, event(sandbox, "bad_bot")["event_id"], "bot1").status_code == 403
    assert signup(api, "not an id!", "bot2").status_code == 400
    assert [r for r in caplog.records if r.name == "django.request"] == []
    assert api.get("/api/no-such-endpoint").status_code == 404
    assert [r.status_code for r in caplog.records if r.name == "django.request"] == [404]


def test_a_bot_refusal_takes_no_device_lock_and_still_names_every_reason(api, sandbox):
    """The event alone denies: no plain device read, no locking transaction; the lock-free
    path's own upsert returns the device, so a blocked device still shows in the reasons."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from risk.models import Device

    bot = event(sandbox, "bad_bot")
    visitor = bot["identification"]["visitor_id"]
    Device.objects.create(visitor_id=visitor, status="blocked")
    with CaptureQueriesContext(connection) as queries:
        response = signup(api, bot["event_id"], "botty")
    assert response.status_code == 403
    sqls = [q["sql"] for q in queries.captured_queries]
    device_reads = [
        q for q in sqls if q.lstrip().upper().startswith("SELECT") and '"risk_device"' in q
    ]
    assert device_reads == []
    attempt = SignupAttempt.objects.get(username="botty")
    assert attempt.reasons[:1] == ["bot_bad"] and "device_blocked" in attempt.reasons
