"""The queue: default view, filters, exact search, bounded queries and counts."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from risk.admin.pagination import CappedCountPaginator
from risk.models import Device, DrnSnapshot, FingerprintEvent, SignupAttempt
from tests.risk.review_helpers import empty_cache, make_reviewer, signup  # noqa: F401

pytestmark = pytest.mark.django_db
QUEUE = "/admin/risk/signupattempt/"


@pytest.fixture
def reviewer_client(client):
    client.force_login(make_reviewer())
    return client


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


def queue_queries(client, params: str = "") -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(QUEUE + params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_rows_shown(reviewer_client):
    fabricate(5, prefix="few")
    few = queue_queries(reviewer_client)
    fabricate(45, prefix="many")
    response = reviewer_client.get(QUEUE)
    assert len(response.context["cl"].result_list) == 50
    many = queue_queries(reviewer_client)
    assert many == few, (few, many)
    # and no query counts the whole table: every COUNT is over a LIMITed subquery
    with CaptureQueriesContext(connection) as ctx:
        reviewer_client.get(QUEUE + "?status=all")
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts


def test_paginator_caps_the_count(monkeypatch):
    fabricate(12)
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    paginator = CappedCountPaginator(SignupAttempt.objects.order_by("-pk"), 5)
    assert paginator.count == 10 and paginator.truncated and paginator.num_pages == 2
    exact = CappedCountPaginator(SignupAttempt.objects.filter(username="bulk1").order_by("pk"), 5)
    assert exact.count == 1 and not exact.truncated


def test_queue_opens_on_pending_oldest_first(reviewer_client, sandbox):
    _, first = signup(sandbox, "tor", username="first")
    _, denied = signup(sandbox, "bad_bot", username="denied")
    _, second = signup(sandbox, "good_bot", username="second")
    shown = list(reviewer_client.get(QUEUE).context["cl"].result_list)
    assert shown == [first, second]  # the user who has waited longest comes first
    everything = reviewer_client.get(QUEUE + "?status=all").context["cl"].result_list
    assert denied in everything


@pytest.fixture
def mixed(sandbox):
    rows = {}
    for name, profile in [
        ("vpn", "vpn"),
        ("bot", "bad_bot"),
        ("tamper", "tampering"),
        ("phone", "android"),
        ("human", "human"),
    ]:
        _, rows[name] = signup(sandbox, profile, username=f"m_{name}", email=f"{name}@example.com")
    return rows


FILTER_CASES = [
    ("reason=bot_bad", {"bot"}),
    ("reason=anti_detect_browser", {"tamper"}),
    ("decision__exact=deny", {"bot", "tamper"}),
    ("bot=bad", {"bot"}),
    ("platform=android", {"phone"}),
    ("net=vpn", {"vpn"}),
    ("net=tampering", {"tamper"}),
    ("score=0", {"human", "phone"}),
    ("score=1-9", {"vpn", "tamper"}),
    ("score=10-19", {"bot"}),
    ("score=20%2B", set()),
    ("when=24h", {"vpn", "bot", "tamper", "phone", "human"}),
]


def test_filters(reviewer_client, mixed):
    for params, expected in FILTER_CASES:  # one data set for every case: signups cost time
        response = reviewer_client.get(f"{QUEUE}?status=all&{params}")
        assert response.status_code == 200
        got = {a.username.removeprefix("m_") for a in response.context["cl"].result_list}
        assert got == expected, params


def test_date_range_filter(reviewer_client, mixed):
    old = mixed["vpn"]
    SignupAttempt.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    today = timezone.localdate()
    response = reviewer_client.get(f"{QUEUE}?status=all&since={today}&until={today}")
    shown = set(response.context["cl"].result_list)
    assert old not in shown and mixed["bot"] in shown
    day = (timezone.now() - timedelta(days=40)).date()
    response = reviewer_client.get(f"{QUEUE}?status=all&since={day}&until={day}")
    assert list(response.context["cl"].result_list) == [SignupAttempt.objects.get(pk=old.pk)]


def test_exact_search_by_shape(reviewer_client, mixed):
    bot = mixed["bot"]

    def search(term):
        response = reviewer_client.get(QUEUE, {"status": "all", "q": term})
        assert response.status_code == 200
        return {a.pk for a in response.context["cl"].result_list}

    assert search("m_bot") == {bot.pk}
    assert search("m_b") == set()  # exact, not "contains"
    assert search("bot@example.com") == {bot.pk}
    assert search(bot.event_id) == {bot.pk}
    assert search(bot.visitor_id) == {bot.pk}
    some = mixed["human"]
    assert search(some.client_ip) == {some.pk}
    assert search("10.9.9.9") == set()


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
