"""drn_lookup and friends: real HTTP to the sandbox, real database; the DRN panel template."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import timezone

from risk.conf import DRN_API_URL, risk_settings
from risk.models import Device, DrnSnapshot, SignupAttempt
from risk.selectors import devices_drn_due
from risk.services.drn import drn_lookup
from tests.conftest import drn_calls, settle

pytestmark = pytest.mark.django_db

MASKED = {
    "countries": [
        {"code": "US", "detectors": [{"type": "ip", "activityPercentage": 0.6}]},
        {"code": "CA", "detectors": [{"type": "ip", "activityPercentage": 0.4}]},
        {"code": "RU", "detectors": [{"type": "origin", "activityPercentage": 1.0}]},
    ]
}
SCORES = {
    "minimum": {"value": 3, "signals": {"rootApps": 3}},
    "maximum": {
        "value": 25,
        "percentile": 0.95,
        "signals": {"vpn": {"publicVPN": 5}, "emulator": 8, "frida": 12},
    },
}


def android_device(sandbox, **seed) -> Device:
    # An odd age keeps these events out of other tests' time-window searches (shared sandbox).
    event = sandbox.create_event("android", age_s=12 * 86_400 + 437)
    visitor = event["identification"]["visitor_id"]
    if seed:
        sandbox.seed_drn(visitor, **seed)
    return Device.objects.create(visitor_id=visitor, platform="android")


def test_lookup_stores_snapshot_with_columns(sandbox):
    device = android_device(
        sandbox,
        regional_activity=MASKED,
        suspect_score=SCORES,
        first_seen_at="2026-01-02T03:04:00Z",
    )
    Device.objects.filter(pk=device.pk).update(drn_lookup_pending=True)
    device.refresh_from_db()
    snapshot = drn_lookup(device=device)
    snapshot.refresh_from_db()
    assert snapshot.status == "ok" and snapshot.error == ""
    assert snapshot.visitor_id == device.visitor_id
    assert set(snapshot.raw["data"]) == {"regionalActivity", "suspectScore", "timestamps"}
    assert snapshot.countries == [
        {"code": "RU", "ip": 0.0, "origin": 1.0},
        {"code": "US", "ip": 0.6, "origin": 0.0},
        {"code": "CA", "ip": 0.4, "origin": 0.0},
    ]
    assert snapshot.location_masked is True
    assert (snapshot.min_suspect_score, snapshot.max_suspect_score) == (3, 25)
    assert snapshot.max_percentile == 0.95
    assert snapshot.first_seen_at == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    assert snapshot.last_seen_at is not None
    assert snapshot.device_age_at_signup is None  # no attempt given
    device.refresh_from_db()
    assert device.drn_lookup_pending is False  # success clears the flag


def test_cache_then_force(sandbox, settings):
    settings.FINGERPRINT_DRN_CACHE_S = 3600
    device = android_device(sandbox)
    before = drn_calls(sandbox)
    first = drn_lookup(device=device)
    assert drn_lookup(device=device) == first  # cached: no call
    assert drn_calls(sandbox) - before == 1
    forced = drn_lookup(device=device, force=True)
    assert forced != first and forced.status == "ok"
    assert drn_calls(sandbox) - before == 2
    DrnSnapshot.objects.filter(device=device).update(fetched_at=timezone.now() - timedelta(hours=2))
    assert drn_lookup(device=device) not in (first, forced)  # expired: looked up again
    assert drn_calls(sandbox) - before == 3
    settings.FINGERPRINT_DRN_CACHE_S = 0
    drn_lookup(device=device)
    assert drn_calls(sandbox) - before == 4


@pytest.mark.parametrize("platform", ["js", "ios"])
def test_non_android_device_is_never_looked_up(sandbox, platform):
    profile = {"js": "human", "ios": "ios"}[platform]
    visitor = sandbox.create_event(profile)["identification"]["visitor_id"]
    device = Device.objects.create(visitor_id=visitor, platform=platform)
    before = drn_calls(sandbox)
    assert drn_lookup(device=device, force=True) is None
    assert drn_calls(sandbox) == before
    assert not DrnSnapshot.objects.filter(device=device).exists()


def test_device_without_platform_is_judged_by_its_events(sandbox):
    from risk.models import FingerprintEvent

    device = android_device(sandbox)
    Device.objects.filter(pk=device.pk).update(platform="")
    device.refresh_from_db()
    before = drn_calls(sandbox)
    assert drn_lookup(device=device) is None  # no Android event stored: not asked
    FingerprintEvent.objects.create(
        event_id="1.a", device=device, visitor_id=device.visitor_id, platform="android", raw={}
    )
    assert drn_lookup(device=device).status == "ok"
    assert drn_calls(sandbox) - before == 1


def test_failure_is_recorded_and_queued_then_cleared(sandbox):
    device = android_device(sandbox)
    sandbox.set_faults(target="drn", status=503)
    failed = drn_lookup(device=device, budget_s=0.5)
    assert failed.status == "error" and "503" in failed.error
    assert failed.max_percentile is None and failed.raw == {}
    device.refresh_from_db()
    assert device.drn_lookup_pending is True
    assert list(devices_drn_due(max_age=timedelta(days=30))) == [device]
    sandbox.clear_faults()
    # An error snapshot is not a cache hit: the next lookup asks DRN again.
    ok = drn_lookup(device=device)
    assert ok.status == "ok"
    device.refresh_from_db()
    assert device.drn_lookup_pending is False
    assert list(devices_drn_due(max_age=timedelta(days=30))) == []


def test_timeout_is_an_error_within_the_budget(sandbox):
    device = android_device(sandbox)
    sandbox.set_faults(target="drn", latency_ms=1500)
    before = drn_calls(sandbox)
    started = time.monotonic()
    snapshot = drn_lookup(device=device, budget_s=0.3)
    assert time.monotonic() - started < 0.3 + 0.5
    settle(sandbox, calls_before=before)
    assert snapshot.status == "error" and "did not answer" in snapshot.error
    device.refresh_from_db()
    assert device.drn_lookup_pending is True


def test_invalid_key_is_an_error_snapshot_with_a_clear_message(sandbox, settings):
    device = android_device(sandbox)
    settings.FINGERPRINT_SECRET_API_KEY = "wrong-key"
    settings.FINGERPRINT_DRN_API_URL = settings.FINGERPRINT_API_URL
    snapshot = drn_lookup(device=device)
    assert snapshot.status == "error"
    assert "401 secret_key_not_found" in snapshot.error and "wrong-key" not in snapshot.error


def test_unknown_to_drn_is_not_found_and_not_queued(sandbox):
    device = Device.objects.create(visitor_id="neverseenbydrn000000", platform="android")
    snapshot = drn_lookup(device=device)
    assert snapshot.status == "not_found"
    device.refresh_from_db()
    assert device.drn_lookup_pending is False


def test_attempt_gets_the_snapshot_and_device_age(sandbox):
    device = android_device(sandbox, first_seen_at="2026-01-01T00:00:00Z")
    attempt = SignupAttempt.objects.create(
        username="a", event_id="e1", device=device, decision="allow"
    )
    snapshot = drn_lookup(device=device, attempt=attempt)
    attempt.refresh_from_db()
    snapshot.refresh_from_db()
    assert attempt.drn_snapshot == snapshot
    assert snapshot.device_age_at_signup == attempt.created_at - snapshot.first_seen_at
    # Looking up again keeps the answered evidence of the signup on the attempt.
    again = drn_lookup(device=device, attempt=attempt, force=True)
    attempt.refresh_from_db()
    assert again != snapshot and attempt.drn_snapshot == snapshot


def test_attempt_with_a_failed_lookup_gets_the_later_answer(sandbox):
    device = android_device(sandbox)
    sandbox.set_faults(target="drn", status=500)
    attempt = SignupAttempt.objects.create(username="b", event_id="e2", device=device)
    failed = drn_lookup(device=device, attempt=attempt, budget_s=0.3)
    attempt.refresh_from_db()
    assert attempt.drn_snapshot == failed and failed.status == "error"
    sandbox.clear_faults()
    ok = drn_lookup(device=device, attempt=attempt)
    attempt.refresh_from_db()
    assert attempt.drn_snapshot == ok and ok.status == "ok"


def test_due_devices_in_id_order_from_a_checkpoint():
    devices = [
        Device.objects.create(visitor_id=f"pending{i:013d}", platform="android") for i in range(5)
    ]
    Device.objects.create(visitor_id="iosdevice00000000001", platform="ios")  # DRN: Android only
    # devices[1] has a fresh answer; devices[2] a stale one; devices[3] a fresh one but queued.
    fresh = [DrnSnapshot(device=d, visitor_id=d.visitor_id, status="ok") for d in devices[1:4]]
    DrnSnapshot.objects.bulk_create(fresh)
    DrnSnapshot.objects.filter(device=devices[2]).update(
        fetched_at=timezone.now() - timedelta(days=31)
    )
    Device.objects.filter(pk=devices[3].pk).update(drn_lookup_pending=True)
    due = [devices[0], devices[2], devices[3], devices[4]]
    assert list(devices_drn_due(max_age=timedelta(days=30))) == due
    assert list(devices_drn_due(max_age=timedelta(days=30), after=devices[0].pk)) == due[1:]


def test_device_stored_before_its_platform_is_android_by_its_events():
    from risk.models import FingerprintEvent
    from risk.selectors import device_is_android

    legacy = Device.objects.create(visitor_id="legacy00000000000001")
    assert not device_is_android(device=legacy)
    assert list(devices_drn_due(max_age=timedelta(days=30))) == []
    FingerprintEvent.objects.create(event_id="e1", device=legacy, platform="android", raw={})
    assert device_is_android(device=legacy)
    assert list(devices_drn_due(max_age=timedelta(days=30))) == [legacy]


# --- settings -------------------------------------------------------------------------------


def test_drn_url_follows_the_sandbox_or_drns_host(settings):
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    settings.FINGERPRINT_DRN_API_URL = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://127.0.0.1:8100"
    assert risk_settings().drn_api_url == "http://127.0.0.1:8100"
    settings.FINGERPRINT_SECRET_API_KEY = "a-real-key"
    assert risk_settings().drn_api_url == DRN_API_URL == "https://drn-api.fpjs.io"
    settings.FINGERPRINT_DRN_API_URL = "https://drn-proxy.example/"
    assert risk_settings().drn_api_url == "https://drn-proxy.example"


def test_drn_defaults_and_checks(settings):
    cfg = risk_settings()
    assert (cfg.drn_cache_s, cfg.drn_rps, cfg.drn_signup_budget_s) == (3600, 5.0, 0.5)
    assert (cfg.drn_new_device_minutes, cfg.drn_percentile_review) == (60, 0.95)
    assert cfg.drn_location_masked_review is True
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    assert [m for m in run_checks() if m.id.startswith("risk.")] == []
    settings.FINGERPRINT_DRN_RPS = 0
    settings.RISK_DRN_PERCENTILE_REVIEW = 95
    settings.FINGERPRINT_DRN_API_URL = "drn-api.fpjs.io"
    messages = {m.obj: m.id for m in run_checks() if m.id.startswith("risk.")}
    assert messages == {
        "FINGERPRINT_DRN_RPS": "risk.E003",
        "RISK_DRN_PERCENTILE_REVIEW": "risk.E003",
        "FINGERPRINT_DRN_API_URL": "risk.E004",
    }


def test_manage_check_passes_with_drn_defaults(settings):
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    assert [m for m in run_checks() if m.id.startswith("risk.")] == []
    call_command("check")  # and the whole project's checks do not raise


# --- the panel template ---------------------------------------------------------------------


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
