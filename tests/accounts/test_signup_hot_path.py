"""What the refusal path no longer does, and that the answers did not change (issue 14)."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from risk.models import FingerprintEvent, SignupAttempt

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("both_stacks")]
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


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the single statement is PostgreSQL's"
)
@pytest.mark.parametrize("profile", ["bad_bot", "human"])
def test_a_refusal_is_three_statements_and_still_names_every_reason(api, sandbox, profile):
    """A refusal a plain read proves (the event alone, or a blocked device): the username
    check, one plain read of the event's claim and the device, and, on PostgreSQL, one
    statement writing device, snapshot and attempt; no transaction, no savepoint. The plain
    read sees the block, so the reasons name it even when the event alone denies."""
    from django.test.utils import CaptureQueriesContext

    from risk.models import Device

    made = event(sandbox, profile)
    Device.objects.create(visitor_id=made["identification"]["visitor_id"], status="blocked")
    with CaptureQueriesContext(connection) as queries:
        response = signup(api, made["event_id"], "refused")
    assert response.status_code == 403
    sqls = [q["sql"] for q in queries.captured_queries]
    assert len(sqls) == 3, sqls  # no BEGIN/COMMIT is captured; a savepoint would be
    assert not [q for q in sqls if "SAVEPOINT" in q.upper()]
    write = sqls[2]
    assert all(table in write for table in ("risk_device", "risk_fingerprintevent"))
    assert write.lstrip().startswith("WITH") and "risk_signupattempt" in write
    attempt = SignupAttempt.objects.get(username="refused")
    assert "device_blocked" in attempt.reasons
    assert (attempt.reasons[0] == "bot_bad") == (profile == "bad_bot")
    assert Device.objects.get().attempt_count == 1


def test_serializers_get_their_own_bound_field_copies_and_validate_side_by_side(db):
    """The signup serializer copies its declared fields shallowly (not DRF's deepcopy): each
    instance still binds its own copies, the declared fields stay unbound, and serializers
    validating in several threads at once keep their own errors."""
    from concurrent.futures import ThreadPoolExecutor

    from accounts.serializers import CreateAccountSerializer, SignupSerializer

    first, second = SignupSerializer(data={}), SignupSerializer(data={})
    for name in ("event_id", "username", "password", "email", "sealed_result"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert SignupSerializer._declared_fields[name].parent is None
    assert "event_id" not in CreateAccountSerializer(data={}).fields

    def check(i):
        if i % 2:  # invalid: a bad event id and a short username
            body = {"event_id": f"bad id {i}", "username": "x", "password": PASSWORD}
        else:
            body = {
                "event_id": f"1708102555327.Ab{i:04d}",
                "username": f"user{i}",
                "password": PASSWORD,
            }
        serializer = SignupSerializer(data=body)
        serializer.is_valid()
        return i, serializer.errors, serializer.validated_data if not serializer.errors else None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(check, range(200)))
    for i, errors, data in results:
        if i % 2:
            assert set(errors) == {"event_id", "username"}, (i, errors)
            assert errors["event_id"][0].code == "invalid_event_id"
            assert errors["username"][0].code == "min_length"
        else:
            assert errors == {} and data["username"] == f"user{i}"
            assert data["event_id"] == f"1708102555327.Ab{i:04d}"
