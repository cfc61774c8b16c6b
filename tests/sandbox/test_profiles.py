"""Generated events have the vendor's shape: same keys mean the same JSON types, recursively."""

from __future__ import annotations

from typing import Any

import pytest

from risk.fingerprint.events import normalise_event
from risk.fingerprint.suspect_score import SIGNAL_WEIGHTS
from sandbox.profiles import PROFILES
from tests.conftest import vendor_fixture

SECRET = "sandbox-secret-key"
JS_ONLY = {"bot", "incognito", "privacy_settings", "virtual_machine", "developer_tools"}
ANDROID_ONLY = {"root_apps", "emulator", "cloned_app", "mitm_attack"}
IOS_ONLY = {"jailbroken", "simulator"}


fixture = vendor_fixture


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def assert_same_shape(ours: Any, theirs: Any, path: str = "$") -> int:
    """Compare types of the keys both sides have; returns how many keys were compared."""
    if ours is None or theirs is None:  # nullable in the vendor schema (e.g. lastSeenAt)
        return 0
    if isinstance(ours, float) and isinstance(theirs, int) and not isinstance(theirs, bool):
        return 0  # a JSON number the vendor example happens to write without decimals
    assert json_type(ours) == json_type(theirs), f"{path}: {json_type(ours)} != {json_type(theirs)}"
    compared = 0
    if isinstance(ours, dict):
        for key in ours.keys() & theirs.keys():
            compared += 1 + assert_same_shape(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list) and ours and theirs:
        compared += assert_same_shape(ours[0], theirs[0], f"{path}[0]")
    return compared


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_v4_event_matches_vendor_shape(control, v4, profile: str) -> None:
    vendor = fixture("v4_get_event_200.json")
    event = v4.get(f"/v4/events/{control.create_event(profile)['event_id']}").json()
    compared = assert_same_shape(event, vendor)
    assert compared > 50
    # The always-there identity fields, plus a platform-consistent set of signals.
    for key in ("event_id", "timestamp", "url", "ip_address", "identification", "sdk",
                "ip_info", "suspect_score", "velocity", "replayed"):  # fmt: skip
        assert key in event, key
    platform = event["sdk"]["platform"]
    assert platform == PROFILES[profile].platform
    keys = set(event)
    if platform == "js":
        assert keys >= JS_ONLY and not (ANDROID_ONLY | IOS_ONLY) & keys
    elif platform == "android":
        assert keys >= ANDROID_ONLY and not (JS_ONLY | IOS_ONLY) & keys
    else:
        assert keys >= IOS_ONLY and not (JS_ONLY | ANDROID_ONLY) & keys
    assert event["ip_info"]["v4"]["address"] == event["ip_address"]
    ts, _, suffix = event["event_id"].partition(".")
    assert int(ts) == event["timestamp"] and len(suffix) == 6 and suffix.isalnum()
    visitor_id = event["identification"]["visitor_id"]
    assert len(visitor_id) == 20 and visitor_id.isalnum()


@pytest.mark.parametrize("profile", ["human", "bad_bot", "vpn", "farm", "ios"])
def test_v3_event_matches_vendor_shape(control, server, http, profile: str) -> None:
    vendor = fixture("v3_get_event_200.json")
    event = control.create_event(profile, linked_id="user-1", tags={"a": 1})
    response = http.get(
        f"{server.url}/events/{event['event_id']}", headers={"Auth-API-Key": SECRET}
    )
    assert response.status_code == 200
    body = response.json()
    assert assert_same_shape(body, vendor) > 60
    products = body["products"]
    data = products["identification"]["data"]
    assert data["requestId"] == event["event_id"]
    assert data["visitorId"] == event["identification"]["visitor_id"]
    assert data["linkedId"] == "user-1" and data["tag"] == {"a": 1}
    assert products["suspectScore"]["data"]["result"] == event["suspect_score"]
    if profile == "bad_bot":
        assert products["botd"]["data"]["bot"] == {"result": "bad", "type": "headlessChrome"}
    if profile == "human":
        assert products["botd"]["data"]["bot"] == {"result": "notDetected"}
    if profile == "vpn":
        assert products["vpn"]["data"]["result"] is True
        assert products["vpn"]["data"]["methods"]["publicVPN"] is True
    if profile == "farm":
        assert "botd" not in products
        assert products["emulator"]["data"]["result"] is True


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_suspect_score_is_weighted_sum(control, profile: str) -> None:
    event = control.create_event(profile)
    # The product's reading of the event explains the sandbox's score exactly.
    present = normalise_event(event).present_signals()
    expected = sum(SIGNAL_WEIGHTS[name][0] for name in present)
    assert event["suspect_score"] == expected
    if profile != "human" and profile not in ("good_bot", "android", "ios"):
        assert event["suspect_score"] > 0


def test_overrides_recompute_suspect_score(control) -> None:
    event = control.create_event(
        "human",
        overrides={"proxy": True, "ip_blocklist": {"attack_source": True}, "developer_tools": True},
    )
    assert event["suspect_score"] == 4 + 4 + 2
    assert event["ip_blocklist"]["tor_node"] is False  # deep merge kept the sibling keys
    pinned = control.create_event("tor", overrides={"suspect_score": 99})
    assert pinned["suspect_score"] == 99
    assert pinned["ip_blocklist"]["tor_node"] is True


def test_visitor_history_is_consistent(control) -> None:
    first = control.create_event("human", age_s=3600)
    visitor_id = first["identification"]["visitor_id"]
    second = control.create_event("human", visitor_id=visitor_id, ip=first["ip_address"])
    assert first["identification"]["visitor_found"] is False
    ident = second["identification"]
    assert ident["visitor_found"] is True
    assert ident["first_seen_at"] == first["timestamp"]
    assert ident["last_seen_at"] == first["timestamp"]
    assert second["user_agent"] == first["user_agent"]  # same device, same browser
    assert second["velocity"]["events"] == {"5_minutes": 1, "1_hour": 1, "24_hours": 2}
    assert second["velocity"]["ip_events"]["24_hours"] == 2
