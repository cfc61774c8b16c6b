"""The account cannot be created after the decision (the database fails in between): the
attempt is denied with `account_failed` and the device gets its slot back in the request.
Otherwise the user's next signup from that device would count an account that does not
exist."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from rest_framework.test import APIClient

from risk.models import Device, SignupAttempt

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct-horse-battery-9"


def sign_up(sandbox, username, visitor_id=None):
    event = sandbox.create_event("human", ip="127.0.0.1", visitor_id=visitor_id)
    body = {"event_id": event["event_id"], "username": username, "password": PASSWORD}
    response = APIClient(REMOTE_ADDR="127.0.0.1").post("/api/signup", body, format="json")
    return response, event["identification"]["visitor_id"]


@pytest.fixture
def lock_accounts_table():
    """Another session takes a lock that lets the username check read accounts_user but makes
    the account's INSERT wait, and this session waits 300 ms at most: the INSERT fails with a
    real database error after the decision was written. Returns the function that lifts it."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's table locks and lock_timeout")
    blocker = connections.create_connection("default")
    with blocker.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE accounts_user IN SHARE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '300ms'")

    def unlock() -> None:
        blocker.close()  # ends its transaction, and the lock with it
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    yield unlock
    unlock()


def test_a_database_failure_after_the_decision_gives_the_slot_back(sandbox, lock_accounts_table):
    failed, visitor = sign_up(sandbox, "first-try")
    assert failed.status_code == 503 and failed.json()["code"] == "database_unavailable"
    attempt = SignupAttempt.objects.get()
    assert (attempt.decision, attempt.reasons[-1]) == ("deny", "account_failed")
    assert attempt.account_id is None and not get_user_model().objects.exists()
    assert Device.objects.get(visitor_id=visitor).account_count == 0
    # The user tries again from the same device, with a new event: not a duplicate.
    lock_accounts_table()
    again, _ = sign_up(sandbox, "second-try", visitor_id=visitor)
    assert again.status_code == 201, again.json()
    assert Device.objects.get(visitor_id=visitor).account_count == 1
