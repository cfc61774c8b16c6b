"""How many SQL statements a signup costs, by outcome: each one is a round trip to the
database and the ORM's work to build it, so a new one on the signup path is a choice."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db(transaction=True)]

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(api, event_id, username):
    with CaptureQueriesContext(connection) as captured:
        response = api.post(
            "/api/signup",
            {"event_id": event_id, "username": username, "password": "correct-horse-battery-9"},
            format="json",
        )
    sql = [q["sql"] for q in captured.captured_queries]
    return response, [s for s in sql if not s.startswith(TRANSACTION_CONTROL)]


@pytest.fixture
def api(sandbox, settings):
    settings.RISK_DEVICE_LIMIT_STRICT = True  # a device's second account is refused
    client = APIClient(REMOTE_ADDR="127.0.0.1")
    # The allowlist is read once per process and half-minute: not per signup.
    warm = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")
    assert statements(client, warm["event_id"], "warm")[0].status_code == 403
    return client


def test_a_bot_refusal_costs_seven_statements(api, sandbox):
    """The username, the event's claim, the device (plain read); then, in one transaction,
    the new device, the snapshot (read, insert) and the attempt."""
    event = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")
    response, sql = statements(api, event["event_id"], "bot")
    assert response.status_code == 403
    assert len(sql) == 7, sql


def test_a_second_account_of_a_device_is_refused_in_seven_too(api, sandbox):
    """As a bot, but the device is known: its counters are updated instead of inserted."""
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    assert statements(api, first["event_id"], "first")[0].status_code == 201
    visitor = first["identification"]["visitor_id"]
    again = sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor)
    response, sql = statements(api, again["event_id"], "second")
    assert response.status_code == 403
    assert len(sql) == 7, sql


def test_an_accepted_signup_costs_ten(api, sandbox):
    """The refusal's reads and writes, the network's new devices (a brand-new device), the
    account and its link to the attempt."""
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response, sql = statements(api, event["event_id"], "human")
    assert response.status_code == 201
    assert len(sql) == 10, sql
