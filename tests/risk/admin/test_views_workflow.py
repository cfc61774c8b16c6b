"""The review console as a team uses it, over Django's test client on the real database:
navigation that keeps the selection, one-click decisions, conflicts, claims, unblocking and the
dashboard."""

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from risk.models import ReviewDecision, SignupAttempt
from risk.services.review import review_decide
from tests.support.review import empty_cache, held, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db
QUEUE = reverse("admin:risk_signupattempt_changelist")


def evidence(attempt, filters=""):
    url = reverse("admin:risk_signupattempt_change", args=[attempt.pk])
    return f"{url}?{urlencode({'_changelist_filters': filters})}" if filters else url


def decide_url(attempt):
    return reverse("admin:risk_signupattempt_decide", args=[attempt.pk])


def test_one_click_decisions_walk_the_filtered_selection_in_order(alice_client, sandbox):
    a1 = held(sandbox, email="a1@corp.example")
    held(sandbox, email="x@other.example")  # not in the selection
    a2 = held(sandbox, email="a2@mail.corp.example")  # a subdomain: in it
    a3 = held(sandbox, email="a3@corp.example")
    filters = "domain=corp.example"

    page = alice_client.get(evidence(a1, filters))
    assert page.status_code == 200
    assert page.context["nav"]["next"] == evidence(a2, filters)
    assert page.context["queue_url"] == f"{QUEUE}?{filters}"  # the breadcrumb keeps the filter

    response = alice_client.post(
        decide_url(a1), {"quick": "approve", "_next": "1", "_changelist_filters": filters}
    )
    assert response.status_code == 302 and response["Location"] == evidence(a2, filters)
    row = ReviewDecision.objects.get(attempt=a1)
    assert (row.action, row.reason) == ("approve", "legitimate_user")  # the button's default

    response = alice_client.post(
        decide_url(a2), {"quick": "reject", "_next": "1", "_changelist_filters": filters}
    )
    assert response["Location"] == evidence(a3, filters)
    assert ReviewDecision.objects.get(attempt=a2).reason == "fake_identity"
    page = alice_client.get(evidence(a3, filters))
    assert page.context["nav"]["previous"] == ""  # a1 and a2 have left the pending selection

    response = alice_client.post(
        decide_url(a3), {"quick": "reject", "_next": "1", "_changelist_filters": filters}
    )
    assert response["Location"] == f"{QUEUE}?{filters}"  # end of the selection: back to it


def test_newest_first_order_is_kept_too(alice_client, sandbox):
    older, newer = held(sandbox), held(sandbox)
    filters = "o=-1"  # the reviewer sorted the "Time" column newest first
    page = alice_client.get(evidence(newer, filters))
    assert page.context["nav"]["next"] == evidence(older, filters)
    assert page.context["nav"]["previous"] == ""


def test_a_decision_on_a_decided_attempt_is_a_409_and_changes_nothing(alice_client, sandbox):
    attempt = held(sandbox)
    bob = make_reviewer("bob")
    review_decide(actor=bob, action="reject", reason="bot", attempt=attempt)
    response = alice_client.post(decide_url(attempt), {"quick": "approve"})
    assert response.status_code == 409
    assert response.context["error"].code == "not_pending"
    assert b"already rejected by bob" in response.content
    assert ReviewDecision.objects.filter(attempt=attempt).count() == 1


def claim(client, attempt):
    return client.post(reverse("admin:risk_signupattempt_claim", args=[attempt.pk]))


def test_opening_an_item_changes_nothing_and_claiming_is_a_post(alice_client, sandbox):
    attempt = held(sandbox)
    page = alice_client.get(evidence(attempt))
    assert b'id="rv-claim"' in page.content
    attempt.refresh_from_db()
    assert attempt.claimed_by is None  # a GET (a prefetch, a link preview) takes nothing
    claim_url = reverse("admin:risk_signupattempt_claim", args=[attempt.pk])
    assert alice_client.get(claim_url).status_code == 405


def test_a_claimed_item_is_seen_as_taken_by_others(alice_client, sandbox):
    attempt = held(sandbox)
    other = held(sandbox)
    assert claim(alice_client, attempt).status_code == 302
    attempt.refresh_from_db()
    assert attempt.claimed_by.username == "alice"

    client = Client()
    client.force_login(make_reviewer("bob"))
    queue = client.get(QUEUE)
    assert b"taken by alice" in queue.content
    page = client.get(evidence(attempt))
    assert "alice is reviewing" in page.context["claim_conflict"]
    response = client.post(decide_url(attempt), {"quick": "reject"})
    assert response.status_code == 409 and response.context["error"].code == "claimed_by_other"
    # bob's "previous" skips what alice holds
    assert client.get(evidence(other)).context["nav"]["previous"] == ""
    assert claim(client, other).status_code == 302
    assert claim(client, attempt).status_code == 409  # alice holds it
    client.logout()  # bob's claim on `other` stays until it expires

    third = held(sandbox)
    claim(alice_client, third)  # alice moves on: her first claim is given back
    attempt.refresh_from_db()
    assert attempt.claimed_by is None


def test_unblock_is_offered_on_a_blocked_device(alice_client, sandbox, alice):
    attempt = held(sandbox)
    review_decide(actor=alice, action="block_device", reason="bot", device=attempt.device)
    page = alice_client.get(reverse("admin:risk_device_change", args=[attempt.device_id]))
    assert b"unblock_device:blocked_by_mistake" in page.content
    response = alice_client.post(
        reverse("admin:risk_device_decide", args=[attempt.device_id]),
        {"reason": "unblock_device:blocked_by_mistake"},
    )
    assert response.status_code == 302
    assert SignupAttempt.objects.get(pk=attempt.pk).review_status == "pending"


def test_dashboard_backlog_time_to_decision_and_reason_outcomes(alice_client, sandbox, alice):
    from datetime import timedelta

    from django.utils import timezone

    from risk.selectors import stats_reason_outcomes, stats_time_to_decision

    a, b, c, waiting = held(sandbox), held(sandbox), held(sandbox), held(sandbox)
    now = timezone.now()
    for attempt, hours in ((a, 3), (b, 1), (c, 5), (waiting, 2)):
        SignupAttempt.objects.filter(pk=attempt.pk).update(created_at=now - timedelta(hours=hours))
    review_decide(actor=alice, action="approve", reason="legitimate_user", attempt=a)
    review_decide(actor=alice, action="reject", reason="bot", attempt=b)
    review_decide(actor=alice, action="reject", reason="bot", attempt=c)

    timing = stats_time_to_decision()
    assert timing["count"] == 3
    assert timedelta(hours=2, minutes=59) < timing["median"] < timedelta(hours=3, minutes=1)
    outcomes = {r["code"]: r for r in stats_reason_outcomes()}
    assert (outcomes["tor"]["approved"], outcomes["tor"]["rejected"]) == (1, 2)
    assert abs(outcomes["tor"]["approve_rate"] - 1 / 3) < 1e-9

    page = alice_client.get(reverse("admin:index"))
    backlog = page.context["dashboard"]["backlog"]
    assert backlog["size"] == 1 and timedelta(hours=2) < backlog["oldest_age"] < timedelta(hours=3)
    html = page.content.decode()
    assert "oldest waiting 2 h" in html and "Approve rate" in html and "33%" in html
