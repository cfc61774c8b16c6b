"""The normaliser reads every shape Fingerprint sends, and never crashes on new values."""

import copy
from datetime import UTC, datetime

import pytest

from risk.fingerprint.events import EventFormatError, normalise_event
from tests.conftest import vendor_fixture


def test_v4_vendor_example():
    raw = vendor_fixture("v4_get_event_200.json")
    event = normalise_event(raw)
    assert event.api_version == "v4"
    assert event.event_id == "1708102555327.NLOjmg"
    assert event.visitor_id == "Ibk1527CUFmcnjLwIs4A9"
    assert event.timestamp == datetime.fromtimestamp(1708102555327 / 1000, tz=UTC)
    assert event.ip == "61.127.217.15"
    assert event.platform == "js"
    assert event.confidence == 0.97
    assert event.bot == "not_detected"
    assert event.suspect_score is None  # absent from the example: must not be invented
    assert event.vpn is False and event.proxy is True and event.tampering is False
    assert event.tor is False and event.incognito is False and event.replayed is False
    assert event.country_code == "CZ"
    assert event.browser_name == "Chrome"
    assert event.origin == "https://www.example.com"
    assert event.raw is raw  # kept untouched


def test_v4_webhook_example():
    event = normalise_event(vendor_fixture("v4_webhook_event.json"))
    assert event.api_version == "v4"
    assert event.event_id
    assert event.visitor_id


def test_v3_vendor_example():
    event = normalise_event(vendor_fixture("v3_get_event_200.json"))
    assert event.api_version == "v3"
    assert event.event_id == "1708102555327.NLOjmg"
    assert event.visitor_id == "Ibk1527CUFmcnjLwIs4A9"
    assert event.bot == "not_detected"  # v3 "notDetected"
    assert event.ip == "61.127.217.15"
    assert event.confidence == 0.97
    assert event.proxy is True
    assert event.tor is False
    assert event.country_code == "DE"
    assert event.timestamp == datetime.fromtimestamp(1582299576512 / 1000, tz=UTC)
    assert event.product_errors == {}


def test_v3_partial_errors_keep_what_is_there():
    event = normalise_event(vendor_fixture("v3_get_event_200_partial_errors.json"))
    assert event.api_version == "v3"
    assert event.visitor_id == ""
    assert event.has_identification is False
    assert event.bot == ""
    assert set(event.product_errors) == {"identification", "botd"}


def test_v3_webhook_example():
    event = normalise_event(vendor_fixture("v3_webhook.json"))
    assert event.api_version == "v3"
    assert event.bot == "bad"
    assert event.bot_type == "selenium"
    assert event.suspect_score == 0
    assert event.country_code == "US"


ANDROID_EVENT = {
    "event_id": "1732000000000.aNdr01",
    "timestamp": 1732000000000,
    "ip_address": "203.0.113.9",
    "identification": {"visitor_id": "AndroidVisitor000001", "confidence": {"score": 0.99}},
    "sdk": {"platform": "android", "version": "2.7.0"},
    "bot": "not_detected",
    "emulator": True,
    "root_apps": True,
    "frida": False,
    "cloned_app": False,
    "suspect_score": 11,
}


def test_android_event_without_browser_fields():
    event = normalise_event(ANDROID_EVENT)
    assert event.platform == "android"
    assert event.emulator is True and event.root_apps is True
    assert event.incognito is None and event.url == "" and event.origin == ""
    assert event.suspect_score == 11
    assert {"emulator", "root_apps"} <= event.present_signals()


def test_bad_bot_event():
    raw = {**ANDROID_EVENT, "bot": "bad", "bot_type": "headless_chrome"}
    event = normalise_event(raw)
    assert event.bot == "bad" and event.bot_type == "headless_chrome"
    assert "bot" in event.present_signals()


def test_unknown_enum_values_and_wrong_types_do_not_crash():
    raw = copy.deepcopy(ANDROID_EVENT)
    raw.update(
        bot="suspicious_new_kind",
        vpn="yes",  # wrong type: ignored, not coerced
        suspect_score="11",
        sdk={"platform": "smart_fridge"},
        identification={"visitor_id": 42, "confidence": {"score": "high"}},
        brand_new_signal={"anything": [1, 2, 3]},
        timestamp=-5,
    )
    event = normalise_event(raw)
    assert event.bot == "suspicious_new_kind"
    assert event.vpn is None and event.suspect_score is None
    assert event.platform == "smart_fridge"
    assert event.visitor_id == "" and event.confidence is None
    assert event.timestamp is None


def test_minimal_v4_event_only_required_fields():
    event = normalise_event({"event_id": "1.abc", "timestamp": 1})
    assert event.event_id == "1.abc"
    assert event.visitor_id == "" and event.bot == "" and event.suspect_score is None


@pytest.mark.parametrize("payload", [None, [], "text", {"something": "else"}])
def test_not_an_event(payload):
    with pytest.raises(EventFormatError):
        normalise_event(payload)
