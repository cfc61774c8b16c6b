"""The database failing under a signup, with real PostgreSQL connections killed for real: a
connection that died between requests is replaced (Django's health check), one that dies under
a request gives a JSON 503 with Retry-After, and the client's retry of the same body is decided
again, never refused as a reuse of its own event."""

import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from accounts import services as account_services
from risk.models import SignupAttempt
from tests.support.postgres import terminate_backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def persistent_connections():
    """Connections kept across requests, as in production (the suite closes them after each)."""
    if connection.vendor != "postgresql":
        pytest.skip("kills a PostgreSQL server process")
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield
    connection.settings_dict["CONN_MAX_AGE"] = 0
    connection.close()


def sign_up(event, username):
    body = {"event_id": event["event_id"], "username": username, "password": PASSWORD}
    # What a server does around each request (the test client leaves it out): check a
    # connection kept from an earlier request, drop one that is too old or failed.
    close_old_connections()
    try:
        return APIClient(REMOTE_ADDR="127.0.0.1").post("/api/signup", body, format="json")
    finally:
        close_old_connections()


def test_a_connection_killed_between_signups_is_replaced_before_it_is_used(
    sandbox, persistent_connections
):
    assert sign_up(sandbox.create_event("human", ip="127.0.0.1"), "first").status_code == 201
    terminate_backend(connection.connection.info.backend_pid)  # right after its last use
    response = sign_up(sandbox.create_event("human", ip="127.0.0.1"), "second")
    assert response.status_code == 201, response.content


def kill_before(function):
    """`function`, run after the server process of this thread's connection is killed."""

    def killed_first(*args, **kwargs):
        terminate_backend(connection.connection.info.backend_pid)
        return function(*args, **kwargs)

    return killed_first


def test_the_database_failing_between_the_decision_and_the_account(
    sandbox, persistent_connections, monkeypatch
):
    """503 database_unavailable with Retry-After. The attempt records why no account came of
    it and the device gets its slot back; the same body again is decided again and creates the
    account, once."""
    create = account_services.account_create
    monkeypatch.setattr(account_services, "account_create", kill_before(create))
    event = sandbox.create_event("human", ip="127.0.0.1")
    failed = sign_up(event, "alice")
    assert failed.status_code == 503, failed.content
    assert failed.json()["code"] == "database_unavailable" and failed["Retry-After"] == "5"
    first = SignupAttempt.objects.get(event_id=event["event_id"])
    assert (first.decision, first.reasons, first.claimed_event_id) == (
        "deny",
        ["account_failed"],
        None,
    )

    monkeypatch.setattr(account_services, "account_create", create)
    retried = sign_up(event, "alice")
    assert retried.status_code == 201, retried.content
    attempt = SignupAttempt.objects.get(reference=retried.json()["reference"])
    assert attempt.account.username == "alice" and attempt.decision == "allow"
    assert attempt.device.account_count == 1
    assert sign_up(event, "mallory").status_code == 403  # the event is used now


def test_when_the_release_fails_too_the_retry_gets_the_same_verdict(
    sandbox, persistent_connections, monkeypatch
):
    """The database down for the account and for telling risk about it: the attempt stays as
    decided, and the client's retry (same event id, username and client IP) is answered with
    that decision instead of being refused as a reuse."""
    from risk.integrations import drf

    create = account_services.account_create
    monkeypatch.setattr(account_services, "account_create", kill_before(create))
    monkeypatch.setattr(drf, "signup_account_failed", kill_before(drf.signup_account_failed))
    event = sandbox.create_event("human", ip="127.0.0.1")
    assert sign_up(event, "alice").status_code == 503
    first = SignupAttempt.objects.get(event_id=event["event_id"])
    assert first.decision == "allow" and first.account is None  # as decided, no account

    monkeypatch.setattr(account_services, "account_create", create)
    assert sign_up(event, "mallory").status_code == 403  # another username: a reuse
    retried = sign_up(event, "alice")
    assert retried.status_code == 201, retried.content
    assert retried.json()["reference"] == first.reference
    first.refresh_from_db()
    assert first.account.username == "alice" and first.device.account_count == 1
