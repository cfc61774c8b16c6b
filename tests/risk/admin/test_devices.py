"""risk/admin/devices.py: the cluster ranking (devices with the most attempts first), its
filters and exact search, and the cluster page a device opens on."""

import pytest
from django.urls import reverse

from risk.models import Device, SignupAttempt
from tests.support.review import empty_cache  # noqa: F401

pytestmark = pytest.mark.django_db
RANKING = "/admin/risk/device/"


def shown(client, query: str = "") -> list[str]:
    page = client.get(f"{RANKING}?{query}")
    assert page.status_code == 200
    return [device.visitor_id for device in page.context["cl"].result_list]


def test_the_ranking_puts_the_largest_clusters_first_by_attempts_or_accounts(reviewer_client):
    Device.objects.create(visitor_id="FarmDevice0000000001", attempt_count=40, account_count=1)
    Device.objects.create(visitor_id="FamilyDevice00000001", attempt_count=4, account_count=4)
    Device.objects.create(visitor_id="LoneDevice0000000001", attempt_count=1, account_count=1)
    assert shown(reviewer_client) == [
        "FarmDevice0000000001",
        "FamilyDevice00000001",
        "LoneDevice0000000001",
    ]
    by_accounts = shown(reviewer_client, "o=-3")  # the account count column, largest first
    assert by_accounts[0] == "FamilyDevice00000001"


def test_filters_and_exact_search(reviewer_client):
    Device.objects.create(visitor_id="BlockedAndroid000001", platform="android", status="blocked")
    Device.objects.create(visitor_id="TrustedBrowser000001", platform="js", status="trusted")
    assert shown(reviewer_client, "device_status=blocked") == ["BlockedAndroid000001"]
    assert shown(reviewer_client, "platform=js") == ["TrustedBrowser000001"]
    assert shown(reviewer_client, "q=TrustedBrowser000001") == ["TrustedBrowser000001"]
    assert shown(reviewer_client, "q=TrustedBrowser") == []  # exact, not "contains"


def test_a_device_opens_on_its_cluster_and_cannot_be_edited(reviewer_client):
    device = Device.objects.create(visitor_id="ClusterDevice0000001", attempt_count=2)
    SignupAttempt.objects.create(
        username="first_of_two", event_id="e1", decision="allow", device=device
    )
    url = reverse("admin:risk_device_change", args=[device.pk])
    page = reviewer_client.get(url)
    assert page.status_code == 200 and b"first_of_two" in page.content
    reviewer_client.post(url, {"status": "trusted"})  # the page has no form to edit it
    device.refresh_from_db()
    assert device.status == "normal"
    assert reviewer_client.get(reverse("admin:risk_device_add")).status_code == 403
