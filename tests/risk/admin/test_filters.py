"""risk/admin/filters.py: the queue's and the audit log's filters, on real signups."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from risk.models import SignupAttempt
from tests.support.review import empty_cache, held  # noqa: F401

pytestmark = pytest.mark.django_db


QUEUE = reverse("admin:risk_signupattempt_changelist")


def test_queue_columns_and_filters_for_country_network_and_email_domain(alice_client, sandbox):
    de = held(sandbox, country="DE", asn="Hetzner Online", email="a@shop.example")
    fr = held(sandbox, country="FR", asn="Orange", email="b@notshop.example")
    page = alice_client.get(QUEUE)
    html = page.content.decode()
    assert "Waiting" in html and "?country=DE" in html and "Hetzner Online" in html

    def shown(query):
        return {a.pk for a in alice_client.get(f"{QUEUE}?{query}").context["cl"].result_list}

    assert shown("country=de") == {de.pk}
    assert shown("asn=Orange") == {fr.pk}
    assert shown("domain=shop.example") == {de.pk}  # not notshop.example
    assert shown("q=%40shop.example") == {de.pk}  # search "@shop.example"
    assert shown("domain=example") == {de.pk, fr.pk}


@pytest.mark.parametrize("bad", ["since=2026-02-30", "until=9999-12-31", "since=9999-12-31"])
def test_impossible_dates_are_not_500s(alice_client, sandbox, bad):
    held(sandbox)
    assert alice_client.get(f"{QUEUE}?{bad}").status_code == 200
    audit = reverse("admin:risk_reviewdecision_changelist")
    assert alice_client.get(f"{audit}?{bad}").status_code == 200


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
