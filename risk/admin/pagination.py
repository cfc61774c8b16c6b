"""A paginator that never counts a whole big table.

Django's admin paginator runs `SELECT COUNT(*)` over the filtered queryset on every page view;
on millions of attempts that alone costs seconds. This one counts at most `cap + 1` rows
(`SELECT COUNT(*) FROM (... LIMIT cap+1)`), which an index range scan answers in milliseconds,
and reports "10000+" beyond that. A filter on a rare value of a joined column (bot=bad) can
still need a long scan to find `cap` matches, so on PostgreSQL the count also gets a time
budget (`statement_timeout`); past it the list shows "many" and stays fast. Reviewers narrow
with filters instead of paging to page 900.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db import OperationalError, connections, transaction
from django.utils.functional import cached_property


class CappedCountPaginator(Paginator):
    cap = 10_000
    count_budget_ms = 50
    truncated = False  # more than `cap` rows match
    uncounted = False  # the count ran out of time: unknown, treated as `cap`

    @cached_property
    def count(self) -> int:
        query = self.object_list.order_by().values("pk")[: self.cap + 1]
        connection = connections[query.db]
        if connection.vendor != "postgresql":
            counted = query.count()
        else:
            try:
                counted = self._count_with_budget(query, connection)
            except OperationalError:  # statement_timeout fired
                self.truncated = self.uncounted = True
                return self.cap
        self.truncated = counted > self.cap
        return min(counted, self.cap)

    def _count_with_budget(self, query, connection) -> int:
        with transaction.atomic(using=query.db), connection.cursor() as cursor:
            # SET LOCAL outlives a released savepoint: remember the setting, restore it after.
            cursor.execute(
                "SELECT current_setting('statement_timeout'),"
                " set_config('statement_timeout', %s, true)",
                [f"{self.count_budget_ms}ms"],
            )
            previous = cursor.fetchone()[0]
            counted = query.count()
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        return counted
