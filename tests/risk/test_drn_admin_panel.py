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
