"""risk/admin/attempts.py: the review queue's default view, exact search and bounded queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from risk.models import Device, DrnSnapshot, FingerprintEvent, SignupAttempt
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401  # noqa: F401

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


def test_queue_opens_on_pending_oldest_first(reviewer_client, sandbox):
    _, first = signup(sandbox, "tor", username="first")
    _, denied = signup(sandbox, "bad_bot", username="denied")
    _, second = signup(sandbox, "good_bot", username="second")
    shown = list(reviewer_client.get(QUEUE).context["cl"].result_list)
    assert shown == [first, second]  # the user who has waited longest comes first
    everything = reviewer_client.get(QUEUE + "?status=all").context["cl"].result_list
    assert denied in everything


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


@pytest.mark.django_db
def test_staff_find_an_attempt_by_its_reference(client, sandbox):
    _, wanted = signup(sandbox, "tor", username="wanted")
    signup(sandbox, "tor", username="other")
    client.force_login(make_reviewer())
    for term in (wanted.reference, wanted.reference.lower(), f"  {wanted.reference} "):
        page = client.get(QUEUE, {"q": term})
        assert page.status_code == 200
        assert page.context["cl"].result_count == 1, term
        assert list(page.context["cl"].result_list) == [wanted]
    evidence = client.get(f"{QUEUE}{wanted.pk}/change/")
    assert wanted.reference in evidence.content.decode()


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
