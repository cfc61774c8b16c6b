"""sandbox/factory.py: events made against a store carry the visitor's history and velocity."""

from __future__ import annotations

import pytest

from sandbox import factory
from sandbox.store import Store

NOW = 1_800_000_000_000
MINUTE = 60_000


@pytest.fixture
def store():
    db = Store(":memory:")
    yield db
    db.close()


def test_a_visitors_later_events_remember_when_it_was_first_seen(store):
    first = factory.create_event(store, visitor_id="HistoryVisitor000001", timestamp_ms=NOW)
    later = factory.create_event(
        store, visitor_id="HistoryVisitor000001", timestamp_ms=NOW + 10 * MINUTE
    )
    assert first["identification"]["visitor_found"] is False
    assert later["identification"]["visitor_found"] is True
    assert later["identification"]["first_seen_at"] == NOW
    assert store.event_json(later["event_id"]) is not None


def test_velocity_counts_distinct_addresses_in_each_window(store):
    visitor = "VelocityVisitor00001"
    for minutes_ago, ip in ((120, "198.51.100.1"), (30, "198.51.100.2"), (2, "198.51.100.3")):
        factory.create_event(
            store, visitor_id=visitor, ip=ip, timestamp_ms=NOW - minutes_ago * MINUTE
        )
    event = factory.create_event(store, visitor_id=visitor, ip="198.51.100.3", timestamp_ms=NOW)
    assert event["velocity"]["distinct_ip"] == {"5_minutes": 1, "1_hour": 2, "24_hours": 3}
    assert event["velocity"]["events"] == {"5_minutes": 2, "1_hour": 3, "24_hours": 4}


def test_overrides_apply_and_the_suspect_score_follows_them(store):
    plain = factory.create_event(store, "human", timestamp_ms=NOW)
    assert plain["suspect_score"] == 0
    tampered = factory.create_event(store, "human", timestamp_ms=NOW, overrides={"tampering": True})
    assert tampered["tampering"] is True and tampered["suspect_score"] > 0
    fixed = factory.create_event(
        store, "human", timestamp_ms=NOW, overrides={"tampering": True, "suspect_score": 1}
    )
    assert fixed["suspect_score"] == 1  # an explicit score is kept as given


def test_an_unknown_profile_is_refused(store):
    with pytest.raises(KeyError):
        factory.create_event(store, "no_such_profile")
    with pytest.raises(KeyError):
        factory.bulk_events(store, 3, "no_such_profile")


def test_bulk_events_are_spaced_newest_first_over_round_robin_visitors(store):
    ids = factory.bulk_events(store, 6, "vpn", visitors=2, spread_s=60)
    stamps = [int(event_id.split(".")[0]) for event_id in ids]
    assert stamps == sorted(stamps, reverse=True)
    assert stamps[0] - stamps[-1] == 5 * 10_000  # 60 s over 6 events: 10 s apart
    events = [store.event_meta(event_id)["event"] for event_id in ids]
    visitors = [event["identification"]["visitor_id"] for event in events]
    assert len(set(visitors)) == 2 and visitors[0] == visitors[2] != visitors[1]
    assert all(
        event["vpn"] is True and event["timestamp"] == s
        for event, s in zip(events, stamps, strict=True)
    )
