"""risk/services/snapshots.py: the stored copy of an event: storable text, columns cut to their
sizes, and a stored snapshot never rewritten."""

import pytest

from risk.fingerprint.events import normalise_event
from risk.models import Device, FingerprintEvent
from risk.services.snapshots import event_snapshot_new, event_snapshot_store

pytestmark = pytest.mark.django_db


def event(**fields):
    raw = {
        "event_id": "1700000000000.snapsh",
        "timestamp": 1_700_000_000_000,
        "identification": {"visitor_id": "SnapshotVisitor00001"},
        "ip_address": "198.51.100.7",
        "url": "https://shop.example/signup",
        "suspect_score": 3,
        **fields,
    }
    return normalise_event(raw)


def test_text_no_database_stores_is_replaced_and_said_where():
    row = event_snapshot_new(
        event(url="https://shop.example/\x00sign", bot_type="a\ud800b"), device=None
    )
    row.save()
    row.refresh_from_db()
    assert row.url == "https://shop.example/\ufffdsign"
    assert row.raw["url"] == "https://shop.example/\ufffdsign"
    assert sorted(row.text_replaced) == ["bot_type", "url"]
    assert row.bot_type == "a\ufffdb"


def test_columns_hold_what_fits_and_the_raw_json_keeps_the_exact_value():
    row = event_snapshot_new(event(suspect_score=10**12, ip_address="not an address"), device=None)
    row.save()
    row.refresh_from_db()
    assert row.suspect_score == 2**31 - 1 and row.raw["suspect_score"] == 10**12
    assert row.ip is None  # an inet column gets no garbage
    assert row.visitor_id == "SnapshotVisitor00001" and row.api_version == "v4"


def test_a_stored_snapshot_is_kept_and_only_gains_a_missing_device():
    first = event_snapshot_store(event=event(suspect_score=3), device=None)
    device = Device.objects.create(visitor_id="SnapshotVisitor00001")
    again = event_snapshot_store(event=event(suspect_score=99), device=device)
    assert again.pk == first.pk and again.raw["suspect_score"] == 3  # never rewritten
    assert FingerprintEvent.objects.get(pk=first.pk).device == device
    other = Device.objects.create(visitor_id="SomeoneElse000000001")
    event_snapshot_store(event=event(), device=other)
    assert FingerprintEvent.objects.get(pk=first.pk).device == device  # a link is not moved
