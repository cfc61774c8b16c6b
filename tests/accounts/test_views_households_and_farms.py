"""Households, offices and carrier NAT against farms, through the real signup path with the
client IPs a proxy forwards (sandbox over HTTP, real database)."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from risk.models import Device, SignupAttempt

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    settings.RISK_TRUSTED_PROXY_COUNT = 1


def sign_up(sandbox, ip, username, profile="human", visitor_id=None, **fields):
    if visitor_id:
        fields["visitor_id"] = visitor_id
    event = sandbox.create_event(profile, ip=ip, **fields)
    client = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=ip)
    response = client.post(
        "/api/signup",
        {"event_id": event["event_id"], "username": username, "password": PASSWORD},
        format="json",
    )
    assert response.status_code in (201, 403), response.content
    body = response.json()
    outcome = body.get("status", "denied")
    return outcome, event["identification"]["visitor_id"]


def test_a_households_second_and_third_accounts_are_held_not_denied(sandbox):
    home = "73.45.12.34"
    # The family laptop has visited the site for weeks.
    laptop = "FamilyLaptop00000001"
    sandbox.bulk_events(4, visitor_id=laptop, age_s=10 * 86_400, spread_s=20 * 86_400)
    outcomes = [sign_up(sandbox, home, f"member{i}", visitor_id=laptop)[0] for i in range(3)]
    assert outcomes == ["created", "pending_review", "pending_review"]
    reasons = [a.reasons for a in SignupAttempt.objects.order_by("pk")]
    assert reasons == [[], ["device_shared"], ["device_shared"]]


def test_a_same_device_farm_behind_rotating_proxies_is_denied(sandbox):
    proxy = {"proxy": True, "proxy_confidence": "high"}
    farm = "FarmDevice0000000001"
    ips = [f"81.98.{i}.{i + 7}" for i in range(6)]
    outcomes = [
        sign_up(sandbox, ip, f"farm{i}", visitor_id=farm, overrides=proxy)[0]
        for i, ip in enumerate(ips)
    ]
    assert outcomes == ["denied"] * 6
    # A brand-new browser on a proxy is denied from its first signup, so the device never
    # has an account and each later one is denied for the same reason, not by the limit.
    attempts = SignupAttempt.objects.order_by("pk")
    assert [a.reasons for a in attempts] == [["new_device_hosting"]] * 6
    assert all("hosting_network" in a.facts["farm_signals"] for a in attempts)
    assert Device.objects.get(visitor_id=farm).account_count == 0


def test_the_same_farm_without_proxy_flags_loses_from_its_second_account(sandbox):
    farm = "FarmDevice0000000002"
    outcomes = [sign_up(sandbox, f"81.98.{i}.9", f"farm{i}", visitor_id=farm)[0] for i in range(4)]
    assert outcomes == ["created", "denied", "denied", "denied"]
    second = SignupAttempt.objects.order_by("pk")[1]
    assert second.reasons == ["device_limit"] and "network_changed" in second.facts["farm_signals"]
    assert Device.objects.get(visitor_id=farm).account_count == 1


def test_a_shared_office_pc_is_held_up_to_the_hard_limit(sandbox, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = 4
    office = "91.64.8.8"
    pc = "OfficePC000000000001"
    sandbox.bulk_events(4, visitor_id=pc, age_s=30 * 86_400, spread_s=60 * 86_400)
    outcomes = [sign_up(sandbox, office, f"clerk{i}", visitor_id=pc)[0] for i in range(5)]
    assert outcomes == ["created"] + ["pending_review"] * 3 + ["denied"]
    assert SignupAttempt.objects.order_by("pk").last().reasons == ["device_limit_hard"]


def test_carrier_nat_with_many_clean_phones_is_not_punished(sandbox):
    """Thirty phones, each a new install of the app but known to DRN for months, sign up
    through one carrier address within minutes: all allowed."""
    carrier = "49.36.200.17"
    first_seen = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:00Z")
    outcomes = []
    for i in range(30):
        phone = f"Phone{i:015d}"
        sandbox.seed_drn(phone, first_seen_at=first_seen)
        outcomes.append(sign_up(sandbox, carrier, f"phone{i}", "android", visitor_id=phone)[0])
    assert outcomes == ["created"] * 30


def test_brand_new_devices_rotated_behind_one_ip_are_held_then_denied(sandbox):
    ip = "177.32.1.2"
    outcomes = [sign_up(sandbox, ip, f"rot{i}")[0] for i in range(7)]
    assert outcomes == ["created"] * 2 + ["pending_review"] * 3 + ["denied"] * 2
    assert SignupAttempt.objects.order_by("pk").last().reasons == ["ip_new_device_burst"]


def test_brand_new_devices_rotated_through_one_ipv6_64_count_as_one_network(sandbox):
    """A fresh address of the same /64 for every device: still one network to the rules."""
    outcomes = [sign_up(sandbox, f"2001:db8:77:1::{i + 1:x}", f"six{i}")[0] for i in range(7)]
    assert outcomes == ["created"] * 2 + ["pending_review"] * 3 + ["denied"] * 2
    assert SignupAttempt.objects.order_by("pk").last().reasons == ["ip_new_device_burst"]


@pytest.mark.parametrize(
    ("profile", "overrides", "reason"),
    [
        ("tampering", {}, "anti_detect_browser"),
        ("farm", {}, "emulator_tampered"),
        ("human", {"virtual_machine": True, "developer_tools": True}, "vm_developer_tools"),
        ("bad_bot", {}, "bot_bad"),
    ],
)
def test_farm_signals_deny_from_the_first_account(sandbox, profile, overrides, reason):
    outcome, _ = sign_up(sandbox, "73.45.9.9", "farmer0", profile, overrides=overrides)
    assert outcome == "denied" and reason in SignupAttempt.objects.get().reasons


@pytest.mark.parametrize(
    ("profile", "overrides"),
    [("vpn", {}), ("incognito", {"privacy_settings": True}), ("human", {"incognito": True})],
)
def test_privacy_alone_is_allowed(sandbox, profile, overrides):
    outcome, _ = sign_up(sandbox, "90.84.3.3", "private0", profile, overrides=overrides)
    assert outcome == "created"


def _established(sandbox, ip: str) -> str:
    """A browser Fingerprint has known for a month: its visitor id."""
    month_ago = int((datetime.now(UTC) - timedelta(days=30)).timestamp() * 1000)
    return sandbox.create_event("human", ip=ip, timestamp_ms=month_ago)["identification"][
        "visitor_id"
    ]


def test_a_campus_address_with_some_brand_new_devices_is_not_held(sandbox):
    """Twenty-five people behind one campus address within the hour, one in five on a
    brand-new browser: nobody is held, because most devices there are weeks old."""
    campus = "81.98.7.7"
    outcomes = []
    for i in range(25):
        visitor = None if i % 5 == 4 else _established(sandbox, campus)
        outcomes.append(sign_up(sandbox, campus, f"student{i}", visitor_id=visitor)[0])
    assert outcomes == ["created"] * 25
    last_new = SignupAttempt.objects.filter(device_new=True).order_by("pk").last()
    assert last_new.facts["ip_new_devices"] == 4
    assert last_new.facts["ip_established_devices"] == 20


def test_a_farm_among_a_few_established_devices_is_still_denied(sandbox):
    ip = "177.32.9.9"
    for i in range(2):
        sign_up(sandbox, ip, f"local{i}", visitor_id=_established(sandbox, ip))
    outcomes = [sign_up(sandbox, ip, f"farm{i}")[0] for i in range(8)]
    assert outcomes[-1] == "denied"
    assert SignupAttempt.objects.order_by("pk").last().reasons == ["ip_new_device_burst"]
