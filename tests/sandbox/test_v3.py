"""sandbox/v3.py: a stored v4 event rendered in the legacy v3 shape, read back by the product's
own v3 normaliser."""

from __future__ import annotations

import pytest

from risk.fingerprint.events import normalise_event
from sandbox import v3
from sandbox.factory import create_event
from sandbox.store import Store

NOW = 1_800_000_000_000


@pytest.fixture
def store():
    db = Store(":memory:")
    yield db
    db.close()


def test_names_and_times_in_v3s_spelling():
    assert v3.camel("distinct_ip_by_linked_id") == "distinctIpByLinkedId"
    assert v3.camel("vpn") == "vpn"
    assert v3.iso(1_700_000_000_123) == "2023-11-14T22:13:20Z"
    assert v3.iso(1_700_000_000_123, millis=True) == "2023-11-14T22:13:20.123Z"
    assert v3.iso(None) is None


@pytest.mark.parametrize("profile", ["human", "bad_bot", "vpn", "tampering", "android_rooted"])
def test_the_product_reads_the_same_event_from_either_shape(store, profile):
    event = create_event(store, profile, timestamp_ms=NOW, linked_id="order-7")
    ours, legacy = normalise_event(event), normalise_event(v3.to_v3(event))
    assert legacy.api_version == "v3" and ours.api_version == "v4"
    for field in ("event_id", "visitor_id", "timestamp", "ip", "bot", "vpn", "tampering"):
        assert getattr(legacy, field) == getattr(ours, field), field
    assert legacy.present_signals() == ours.present_signals()
    assert legacy.suspect_score == ours.suspect_score


def test_v3_always_sends_the_linked_id_velocity_and_leaves_out_absent_products(store):
    event = create_event(store, "human", timestamp_ms=NOW)
    event.pop("tampering", None)
    products = v3.to_v3(event)["products"]
    velocity = products["velocity"]["data"]
    assert velocity["distinctIp"]["intervals"] == {"5m": 1, "1h": 1, "24h": 1}
    assert velocity["distinctLinkedId"] == {}  # no linked id: present, empty
    assert "tampering" not in products
    assert products["identification"]["data"]["requestId"] == event["event_id"]
