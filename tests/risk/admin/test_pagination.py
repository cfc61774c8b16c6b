"""risk/admin/pagination.py: a count that never runs over a whole big table."""

import pytest
from django.db import connection

from risk.admin.pagination import CappedCountPaginator
from risk.models import SignupAttempt
from tests.support.review import empty_cache, fabricate  # noqa: F401

pytestmark = pytest.mark.django_db


def test_paginator_caps_the_count(monkeypatch):
    fabricate(12)
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    paginator = CappedCountPaginator(SignupAttempt.objects.order_by("-pk"), 5)
    assert paginator.count == 10 and paginator.truncated and paginator.num_pages == 2
    exact = CappedCountPaginator(SignupAttempt.objects.filter(username="bulk1").order_by("pk"), 5)
    assert exact.count == 1 and not exact.truncated


@pytest.mark.postgres
def test_count_gives_up_within_its_budget_and_restores_the_timeout(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's")
    fabricate(3)
    monkeypatch.setattr(CappedCountPaginator, "count_budget_ms", 50)
    slow = SignupAttempt.objects.extra(where=["(SELECT 1 FROM pg_sleep(0.2)) = 1"]).order_by("pk")
    paginator = CappedCountPaginator(slow, 5)
    assert paginator.count == CappedCountPaginator.cap
    assert paginator.uncounted and paginator.truncated

    fast = CappedCountPaginator(SignupAttempt.objects.order_by("pk"), 5)
    assert fast.count == 3 and not fast.uncounted
    with connection.cursor() as cursor:  # the budget did not leak into later statements
        cursor.execute("SELECT pg_sleep(0.1)")
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
