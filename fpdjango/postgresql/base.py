"""Django's PostgreSQL backend, health-checking a persistent connection only after it idled.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request:
one round trip more in every signup, a quarter of a refusal's four. A connection used less
than `HEALTH_CHECK_IDLE_S` ago (`DB_HEALTH_CHECK_IDLE_S`, 1 s) goes without it, and one idle
longer (past a server's idle timeout, across a restart or a failover) is still checked and
replaced before a request uses it. 0 checks before every request, as Django does.

What the window gives up: a connection killed within that second after its last use, with
the server back by the next request. That request fails once (the signup API answers 503
`database_unavailable`, accounts/api_errors.py) and Django closes the connection at its end,
as it does after any connection error.
"""

import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    used_at: float | None = None  # time.monotonic() of the last cursor on this connection

    def close_if_health_check_failed(self):
        idle_s = self.settings_dict.get("HEALTH_CHECK_IDLE_S", 0)
        if self.used_at is not None and time.monotonic() - self.used_at < idle_s:
            return
        super().close_if_health_check_failed()

    def _cursor(self, name=None):
        cursor = super()._cursor(name)
        self.used_at = time.monotonic()
        return cursor

    def close(self):
        super().close()
        self.used_at = None
