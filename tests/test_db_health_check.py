"""fpdjango.postgresql: the persistent-connection health check runs only after the connection
idled for DB_HEALTH_CHECK_IDLE_S. Real PostgreSQL connections, killed for real."""

import time
from unittest import mock

import pytest
from django.db import OperationalError, connection, connections
from django.db.utils import load_backend

from tests.postgres_helpers import terminate_backend

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the backend is PostgreSQL's")


def persistent_connection(idle_s: float):
    """A connection of our own, as a server thread holds one (CONN_MAX_AGE, health checks)."""
    settings = {
        **connections.settings["default"],
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "HEALTH_CHECK_IDLE_S": idle_s,
    }
    return load_backend(settings["ENGINE"]).DatabaseWrapper(settings, "default")


def request(conn) -> int:
    """What a request does: Django's start-of-request bookkeeping (request_started), one
    query, the end-of-request bookkeeping (request_finished). Returns the server's pid."""
    conn.close_if_unusable_or_obsolete()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    finally:
        conn.close_if_unusable_or_obsolete()


def test_the_backend_is_ours_in_production_settings():
    assert connection.settings_dict["ENGINE"] == "fpdjango.postgresql"
    assert connection.settings_dict["HEALTH_CHECK_IDLE_S"] == 1.0


def test_a_connection_used_moments_ago_is_not_checked():
    conn = persistent_connection(idle_s=60)
    try:
        first = request(conn)
        with mock.patch.object(conn, "is_usable", wraps=conn.is_usable) as checked:
            assert request(conn) == first  # the same connection, no SELECT 1 first
            assert checked.call_count == 0
            # The window's price: killed right after a use, the next request fails once...
            terminate_backend(first)
            with pytest.raises(OperationalError):
                request(conn)
        # ... and Django closed it at that request's end: the next one reconnects.
        assert conn.connection is None
        assert request(conn) != first
    finally:
        conn.close()


def test_a_connection_idle_past_the_window_is_checked_and_replaced():
    conn = persistent_connection(idle_s=0.2)
    try:
        first = request(conn)
        terminate_backend(first)
        time.sleep(0.3)
        with mock.patch.object(conn, "is_usable", wraps=conn.is_usable) as checked:
            second = request(conn)  # no error: the check found it dead and reconnected
        assert checked.call_count == 1 and second != first
    finally:
        conn.close()


def test_zero_checks_before_every_request_as_django_does():
    conn = persistent_connection(idle_s=0)
    try:
        request(conn)
        with mock.patch.object(conn, "is_usable", wraps=conn.is_usable) as checked:
            request(conn)
            request(conn)
        assert checked.call_count == 2
    finally:
        conn.close()
