"""risk/admin/pagination.py: a count that never runs over a whole big table."""

import pytest
from django.db import connection

from risk.admin.pagination import CappedCountPaginator
from risk.models import Device, DrnSnapshot, FingerprintEvent, SignupAttempt
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401

pytestmark = pytest.mark.django_db


def fabricate(count: int, *, prefix: str = "bulk") -> list[SignupAttempt]:
    """Pending attempts with device, snapshot and DRN rows (ORM: only query counts matter)."""
    devices = Device.objects.bulk_create(
        [Device(visitor_id=f"{prefix}{i:015d}", platform="js") for i in range(count)]
    )
    events = FingerprintEvent.objects.bulk_create(
        [
            FingerprintEvent(
                event_id=f"{prefix}-ev-{i}",
                visitor_id=d.visitor_id,
                device=d,
                bot="not_detected",
                suspect_score=i % 25,
                raw={"event_id": f"{prefix}-ev-{i}"},
            )
            for i, d in enumerate(devices)
        ]
    )
    drns = DrnSnapshot.objects.bulk_create(
        [
            DrnSnapshot(device=d, visitor_id=d.visitor_id, status="ok", max_percentile=0.9)
            for d in devices
        ]
    )
    return SignupAttempt.objects.bulk_create(
        [
            SignupAttempt(
                username=f"{prefix}{i}",
                event_id=e.event_id,
                fingerprint_event=e,
                device=d,
                drn_snapshot=s,
                visitor_id=d.visitor_id,
                decision="review",
                reasons=["vpn"],
                review_status="pending",
            )
            for i, (d, e, s) in enumerate(zip(devices, events, drns, strict=True))
        ]
    )


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
