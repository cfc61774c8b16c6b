"""risk/templatetags/drn.py: the DRN panel (templates/risk/drn_panel.html) and its filters."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from risk.models import Device, DrnSnapshot, SignupAttempt
from risk.services.drn import drn_lookup
from tests.support.drn import MASKED, SCORES, android_device

pytestmark = pytest.mark.django_db


def test_panel_renders_a_snapshot(sandbox):
    device = android_device(
        sandbox,
        regional_activity=MASKED,
        suspect_score=SCORES,
        first_seen_at=(timezone.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:00Z"),
    )
    attempt = SignupAttempt.objects.create(username="c", event_id="e3", device=device)
    snapshot = drn_lookup(device=device, attempt=attempt)
    html = render_to_string("risk/drn_panel.html", {"drn": snapshot})
    assert "Device Reputation Network" in html
    assert '<tr class="drn-masked">\n        <td>RU</td>' in html
    assert "<td>US</td>\n        <td>60%</td>\n        <td>\u2013</td>" in html
    assert "<td>CA</td>\n        <td>40%</td>" in html
    assert html.count("drn-masked") == 2  # the style rule and the RU row only
    assert "(rootApps: 3)" in html
    assert "(frida: 12, emulator: 8, vpn.publicVPN: 5)" in html
    assert "95%" in html
    assert "device age: 3\xa0days" in html
    assert "3\xa0days at signup" in html
    assert "OK" in html


def test_panel_renders_errors_and_nothing():
    assert "DRN covers Android devices only" in render_to_string(
        "risk/drn_panel.html", {"drn": None}
    )
    device = Device.objects.create(visitor_id="errpanel000000000000", platform="android")
    snapshot = DrnSnapshot.objects.create(
        device=device,
        visitor_id=device.visitor_id,
        status="error",
        error="DRN did not answer within 0.5s",
    )
    html = render_to_string("risk/drn_panel.html", {"drn": snapshot})
    assert "Error" in html and "DRN did not answer within 0.5s" in html
    assert "drn-countries" not in html


def test_panel_renders_an_inactive_device():
    device = Device.objects.create(visitor_id="inactive000000000000", platform="android")
    snapshot = DrnSnapshot.objects.create(
        device=device,
        visitor_id=device.visitor_id,
        status="ok",
        raw={"data": {"regionalActivity": {"countries": []}}},
        countries=[],
        location_masked=False,
        min_suspect_score=0,
        max_suspect_score=0,
        max_percentile=0,
    )
    html = render_to_string("risk/drn_panel.html", {"drn": snapshot})
    assert "No activity in the last 30 days." in html
    assert "First seen</dt>\n    <dd>unknown" in html
