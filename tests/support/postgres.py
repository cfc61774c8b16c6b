"""PostgreSQL for tests that need a connection to fail for real."""

import time

from django.db import connections


def terminate_backend(pid: int) -> None:
    """End a server process, as a restart or a DBA's pg_terminate_backend would, from a
    connection of our own; return once it is gone."""
    admin = connections.create_connection("default")
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh view in a transaction
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone() is None:
                    return
                time.sleep(0.02)
    finally:
        admin.close()
    raise AssertionError(f"backend {pid} still there")
