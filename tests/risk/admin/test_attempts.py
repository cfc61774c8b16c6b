"""risk/admin/attempts.py: the review queue's default view, exact search and bounded queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.review import empty_cache, fabricate, make_reviewer, signup  # noqa: F401

pytestmark = pytest.mark.django_db
QUEUE = "/admin/risk/signupattempt/"


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
