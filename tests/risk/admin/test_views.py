"""The review console pages, as a Reviewer (staff, Reviewer group, not superuser) sees them."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from risk.models import Device, ReviewDecision
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401

pytestmark = pytest.mark.django_db
User = get_user_model()


def attempt_url(attempt):
    return reverse("admin:risk_signupattempt_change", args=[attempt.pk])


QUEUE = "/admin/risk/signupattempt/"


def test_reviewer_opens_queue_evidence_cluster_and_dashboard(reviewer_client, demo):
    queue = reviewer_client.get(QUEUE)
    assert queue.status_code == 200
    assert b"vpnuser" in queue.content  # pending: in the default queue
    assert b"botuser" not in queue.content  # denied without review: not in the queue

    evidence = reviewer_client.get(attempt_url(demo["bot"]))
    assert evidence.status_code == 200
    html = evidence.content.decode()
    assert "bad bot: headless chrome" in html
    assert "suspect score" in html
    assert "Fingerprint detected a malicious bot" in html  # rules.REASONS description
    assert demo["bot"].event_id in html  # raw snapshot shown
    assert 'action="/admin/risk/signupattempt/' in html  # decision form for a Reviewer

    dup = reviewer_client.get(attempt_url(demo["dup"])).content.decode()
    assert "device_shared" in dup and "alice" in dup  # the cluster lists the first account

    device = Device.objects.get(visitor_id=demo["first"].visitor_id)
    cluster = reviewer_client.get(reverse("admin:risk_device_change", args=[device.pk]))
    assert cluster.status_code == 200
    assert b"alice2" in cluster.content and b"account <b>alice</b> created" in cluster.content

    ranking = reviewer_client.get("/admin/risk/device/")
    assert ranking.status_code == 200 and device.visitor_id.encode() in ranking.content

    index = reviewer_client.get("/admin/")
    assert index.status_code == 200
    assert b"review-dashboard" in index.content
    assert index.context["dashboard"]["open_reviews"] == 2  # Tor, and the second account
    top = {row["code"]: row["count"] for row in index.context["dashboard"]["top_reasons"]}
    assert top["tor"] == 1 and top["bot_bad"] == 1 and top["device_shared"] == 1
    assert index.context["dashboard"]["totals"] == {"allow": 1, "review": 2, "deny": 1, "total": 4}


def test_evidence_shows_suspect_score_breakdown(reviewer_client, sandbox):
    _, attempt = signup(sandbox, "tampering", username="tamper")
    html = reviewer_client.get(attempt_url(attempt)).content.decode()
    score = attempt.fingerprint_event.suspect_score
    assert f"suspect score {score}: tampering 7" in html


@pytest.mark.parametrize("path", ["/admin/", QUEUE, "/admin/risk/device/"])
def test_non_staff_is_sent_to_login(client, path):
    user = User.objects.create_user(username="plain", password="x")
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_anonymous_evidence_page_is_sent_to_login(client, demo):
    response = client.get(attempt_url(demo["held"]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_decision_form_approves_and_save_and_next_moves_on(reviewer_client, sandbox):
    _, older = signup(sandbox, "tor", username="older")
    _, newer = signup(sandbox, "tor", username="newer")
    url = reverse("admin:risk_signupattempt_decide", args=[older.pk])
    response = reviewer_client.post(
        url, {"reason": "approve:vpn_legitimate", "note": "checked", "_next": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == attempt_url(newer)  # next pending, oldest first
    older.refresh_from_db()
    assert older.review_status == "approved" and User.objects.get(pk=older.account_id).is_active
    row = ReviewDecision.objects.get()
    assert (row.action, row.reason, row.note) == ("approve", "vpn_legitimate", "checked")


def test_decision_form_rejects_bad_input_with_400_and_writes_nothing(reviewer_client, sandbox):
    _, held = signup(sandbox, "tor")
    url = reverse("admin:risk_signupattempt_decide", args=[held.pk])
    assert reviewer_client.post(url, {"reason": "approve:no_such_reason"}).status_code == 400
    assert reviewer_client.post(url, {"reason": ""}).status_code == 400
    assert ReviewDecision.objects.count() == 0


def test_giving_an_item_back_ends_only_ones_own_claim(reviewer_client, client, sandbox):
    from django.test import Client

    _, held = signup(sandbox, "tor")
    release = reverse("admin:risk_signupattempt_release", args=[held.pk])
    claim = reverse("admin:risk_signupattempt_claim", args=[held.pk])
    assert reviewer_client.post(claim).status_code == 302
    assert b'id="rv-release"' in reviewer_client.get(attempt_url(held)).content
    held.refresh_from_db()
    assert held.claimed_by.username == "reviewer"
    # Another reviewer's "give it back" leaves the claim where it is; GET does nothing.
    other = Client()
    other.force_login(make_reviewer("ben"))
    assert other.post(release).status_code == 302
    assert other.get(release).status_code == 405
    held.refresh_from_db()
    assert held.claimed_by.username == "reviewer"
    # The holder's ends it, and goes back to the queue with its filters.
    response = reviewer_client.post(release, {"_changelist_filters": "o=2"})
    assert (response.status_code, response["Location"]) == (302, f"{QUEUE}?o=2")
    held.refresh_from_db()
    assert held.claimed_by is None and held.claimed_until is None
    assert other.post(claim).status_code == 302  # so the other reviewer takes it at once
    page = other.get(attempt_url(held))
    assert b'id="claim-mine"' in page.content and b'id="claim-conflict"' not in page.content


def test_view_only_staff_cannot_record_decisions(client, sandbox):
    from django.contrib.auth.models import Permission

    _, held = signup(sandbox, "tor")
    staff = User.objects.create_user(username="viewer", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_signupattempt"))
    client.force_login(staff)
    page = client.get(attempt_url(held))
    assert page.status_code == 200 and b"not record decisions" in page.content
    url = reverse("admin:risk_signupattempt_decide", args=[held.pk])
    assert client.post(url, {"reason": "approve:legitimate_user"}).status_code == 403
    assert ReviewDecision.objects.count() == 0
    release = reverse("admin:risk_signupattempt_release", args=[held.pk])
    assert client.post(release).status_code == 403


def test_the_decide_permission_without_view_permission_decides_nothing(client, sandbox):
    """Staff with the decision permission but not the evidence's view permission: every
    decision, claim and lookup endpoint refuses, and nothing changes."""
    from django.contrib.auth.models import Permission

    _, held = signup(sandbox, "tor")
    staff = User.objects.create_user(username="decider", password="x", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="record_decision"))
    client.force_login(staff)
    posts = {
        "admin:risk_signupattempt_decide": {"quick": "approve"},
        "admin:risk_signupattempt_claim": {},
        "admin:risk_signupattempt_release": {},
        "admin:risk_signupattempt_drn": {},
    }
    for name, body in posts.items():
        assert client.post(reverse(name, args=[held.pk]), body).status_code == 403, name
    device_url = reverse("admin:risk_device_decide", args=[held.device_id])
    assert client.post(device_url, {"reason": "block_device:repeat_abuse"}).status_code == 403
    held.refresh_from_db()
    assert held.review_status == "pending" and held.claimed_by is None
    assert held.device.status == "normal" and ReviewDecision.objects.count() == 0


def test_device_page_blocks_the_device(reviewer_client, sandbox):
    _, attempt = signup(sandbox, "human")
    device = attempt.device
    url = reverse("admin:risk_device_decide", args=[device.pk])
    response = reviewer_client.post(url, {"reason": "block_device:repeat_abuse"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.status == "blocked"
    assert ReviewDecision.objects.get(parent=None).device == device
    # the cascade deactivated the device's active account, with its own audit row
    assert ReviewDecision.objects.get(action="block_deactivate").attempt == attempt
    # attempt actions are not offered on a device page
    assert reviewer_client.post(url, {"reason": "approve:legitimate_user"}).status_code == 400
