"""The DRN panel on the admin's signup attempt page, for a real Android signup with DRN data."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from risk.models import SignupAttempt

pytestmark = pytest.mark.django_db

COUNTRIES = [
    {"code": "US", "detectors": [{"type": "ip", "activityPercentage": 0.6}]},
    {"code": "CA", "detectors": [{"type": "ip", "activityPercentage": 0.4}]},
    {"code": "RU", "detectors": [{"type": "origin", "activityPercentage": 1.0}]},
]
SCORES = {
    "minimum": {"value": 0, "signals": {}},
    "maximum": {"value": 17, "percentile": 0.75, "signals": {"vpn": {"publicVPN": 5}, "frida": 12}},
}


@pytest.fixture
def staff_client():
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "x-pass-123")
    client = Client()
    client.force_login(user)
    return client


def android_signup(sandbox) -> SignupAttempt:
    old = sandbox.create_event("android", age_s=14 * 86_400 + 437, ip="127.0.0.1")
    visitor = old["identification"]["visitor_id"]
    sandbox.seed_drn(visitor, regional_activity={"countries": COUNTRIES}, suspect_score=SCORES)
    event = sandbox.create_event("android", visitor_id=visitor, ip="127.0.0.1")
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "droid", "password": "correct-horse-9x"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return SignupAttempt.objects.get(reference=response.json()["reference"])


def test_attempt_page_shows_the_drn_panel(sandbox, staff_client):
    attempt = android_signup(sandbox)
    assert attempt.drn_snapshot.status == "ok"
    response = staff_client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Device Reputation Network" in html
    assert '<tr class="drn-masked">\n        <td>RU</td>' in html  # masked origin highlighted
    assert "<td>US</td>\n        <td>60%</td>" in html
    assert "<td>CA</td>\n        <td>40%</td>" in html
    assert "(frida: 12, vpn.publicVPN: 5)" in html  # signals behind the maximum
    assert "75%" in html  # percentile
    assert "device age: 2\xa0weeks" in html
    assert "2\xa0weeks at signup" in html


def test_look_up_again_refreshes_the_evidence_and_is_rate_limited(sandbox, settings):
    from django.core.cache import cache

    from risk.models import DrnSnapshot
    from tests.conftest import drn_calls
    from tests.support.review import make_reviewer

    cache.clear()
    settings.REVIEW_DRN_LOOKUPS_PER_HOUR = 2
    attempt = android_signup(sandbox)
    first = attempt.drn_snapshot
    client = Client()
    client.force_login(make_reviewer("rita"))
    page = client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/")
    assert b'id="drn-again"' in page.content
    url = f"/admin/risk/signupattempt/{attempt.pk}/drn/"
    before = drn_calls(sandbox)

    for _ in range(2):
        response = client.post(url, {"_changelist_filters": "country=DE"})
        assert response.status_code == 302
        assert response["Location"].endswith("?_changelist_filters=country%3DDE")
    assert drn_calls(sandbox) == before + 2  # forced: the 1-hour cache was bypassed
    attempt.refresh_from_db()
    assert attempt.drn_snapshot_id == first.pk  # an answered snapshot stays the evidence
    assert DrnSnapshot.objects.filter(device=attempt.device).count() == 3
    # ... and the page shows the newest lookup beside it.
    latest = DrnSnapshot.objects.filter(device=attempt.device).latest("fetched_at", "pk")
    page = client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/")
    assert page.context["drn_latest"] == latest
    assert b'id="drn-latest"' in page.content and b"latest lookup" in page.content

    refused = client.post(url)
    assert refused.status_code == 429
    assert refused.context["error"].code == "rate_limited"
    assert drn_calls(sandbox) == before + 2


def test_look_up_again_is_refused_for_browsers(sandbox):
    from tests.support.review import make_reviewer, signup

    _, attempt = signup(sandbox, "vpn")
    client = Client()
    client.force_login(make_reviewer("rita"))
    page = client.get(f"/admin/risk/signupattempt/{attempt.pk}/change/")
    assert b'id="drn-again"' not in page.content
    response = client.post(f"/admin/risk/signupattempt/{attempt.pk}/drn/")
    assert response.status_code == 400 and response.context["error"].code == "not_android"
