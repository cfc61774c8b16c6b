"""The review console against hostile input: HTML in what users and their browsers send is shown
as text, and every decision view refuses a POST without a CSRF token."""

import pytest
from django.test import Client
from django.urls import reverse

from risk.models import Device, ReviewDecision
from tests.support.hostile import (
    HOSTILE_EMAIL,
    HOSTILE_UA,
    HOSTILE_URL,
    HOSTILE_USERNAME,
    SCRIPT,
)
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401

pytestmark = pytest.mark.django_db
QUEUE = "/admin/risk/signupattempt/"


def assert_escaped(html: str, *raw_values: str) -> None:
    for value in raw_values:
        assert value not in html, f"unescaped: {value}"
    assert "&lt;script&gt;" in html


def test_hostile_values_render_escaped_on_every_console_page(client, hostile):
    client.force_login(make_reviewer())
    pages = {
        "queue": client.get(QUEUE),
        "search": client.get(QUEUE, {"q": hostile.reference}),
        "evidence": client.get(reverse("admin:risk_signupattempt_change", args=[hostile.pk])),
        "device": client.get(reverse("admin:risk_device_change", args=[hostile.device_id])),
        "dashboard": client.get(reverse("admin:index")),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
    evidence = pages["evidence"].content.decode()
    assert_escaped(evidence, SCRIPT, HOSTILE_USERNAME, HOSTILE_EMAIL, HOSTILE_URL, HOSTILE_UA)
    assert "&lt;svg onload=alert(5)&gt;" in evidence  # the user agent is shown, as text
    assert "&lt;/td&gt;&lt;script&gt;" in evidence  # so is the page URL
    for name in ("queue", "search", "device"):
        html = pages[name].content.decode()
        assert_escaped(html, SCRIPT, HOSTILE_USERNAME), name
    assert SCRIPT not in pages["dashboard"].content.decode()


@pytest.fixture
def csrf_client(client):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(make_reviewer())
    return strict


def token_from(strict: Client, url: str) -> str:
    page = strict.get(url)
    assert page.status_code == 200
    return (
        page.context["csrf_token"]
        if "csrf_token" in page.context
        else strict.cookies["csrftoken"].value
    )


def test_attempt_decision_needs_the_csrf_token(csrf_client, sandbox):
    _, held = signup(sandbox, "tor")
    url = reverse("admin:risk_signupattempt_decide", args=[held.pk])
    refused = csrf_client.post(url, {"reason": "approve:vpn_legitimate"})
    assert refused.status_code == 403
    held.refresh_from_db()
    assert held.review_status == "pending" and ReviewDecision.objects.count() == 0
    token = token_from(csrf_client, reverse("admin:risk_signupattempt_change", args=[held.pk]))
    accepted = csrf_client.post(
        url, {"reason": "approve:vpn_legitimate", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code == 302
    held.refresh_from_db()
    assert held.review_status == "approved" and ReviewDecision.objects.count() == 1


def test_device_decision_needs_the_csrf_token(csrf_client, sandbox):
    _, attempt = signup(sandbox, "human")
    url = reverse("admin:risk_device_decide", args=[attempt.device_id])
    assert csrf_client.post(url, {"reason": "block_device:repeat_abuse"}).status_code == 403
    assert Device.objects.get(pk=attempt.device_id).status == "normal"
    assert ReviewDecision.objects.count() == 0


def test_bulk_actions_need_the_csrf_token(csrf_client, sandbox):
    _, held = signup(sandbox, "tor")
    response = csrf_client.post(
        QUEUE,
        {"action": "reject_attempts", "_selected_action": [held.pk], "reason": "multi_accounting"},
    )
    assert response.status_code == 403
    held.refresh_from_db()
    assert held.review_status == "pending" and ReviewDecision.objects.count() == 0
