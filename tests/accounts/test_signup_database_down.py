"""The database failing under a signup: a JSON 503 with Retry-After, not Django's HTML 500.
A real PostgreSQL connection, killed between two signups inside DB_HEALTH_CHECK_IDLE_S (the
window in which fpdjango.postgresql uses a connection without checking it first)."""

import pytest
from django.db import close_old_connections, connection
from rest_framework.test import APIClient

from tests.postgres_helpers import terminate_backend

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("both_stacks"),
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


def test_a_connection_killed_between_signups_answers_503_then_signups_go_on(
    sandbox, persistent_connections
):
    client = APIClient(REMOTE_ADDR="127.0.0.1")

    def sign_up(event, username):
        body = {"event_id": event["event_id"], "username": username, "password": PASSWORD}
        # What a server does around each request (the test client leaves it out): drop a
        # connection that is too old or failed, keep the others.
        close_old_connections()
        try:
            return client.post("/api/signup", body, format="json")
        finally:
            close_old_connections()

    assert sign_up(sandbox.create_event("human", ip="127.0.0.1"), "first").status_code == 201
    terminate_backend(connection.connection.info.backend_pid)  # right after its last use

    event = sandbox.create_event("human", ip="127.0.0.1")
    failed = sign_up(event, "second")
    assert failed.status_code == 503, failed.content
    assert failed.json()["code"] == "database_unavailable" and failed["Retry-After"] == "5"
    # It failed at its first query: nothing was recorded, and the retry gets a new connection.
    assert sign_up(event, "second").status_code == 201
