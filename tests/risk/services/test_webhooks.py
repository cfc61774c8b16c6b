"""risk/services/webhooks.py: an event Fingerprint pushes is stored once, with its device; a
later different copy goes beside it; what is not an event, or was stripped, stays out."""

import copy
import json

import pytest

from risk.fingerprint.events import EventFormatError
from risk.models import Device, FingerprintEvent, FingerprintEventVersion
from risk.services.webhooks import event_webhook_store
from tests.conftest import vendor_fixture

pytestmark = pytest.mark.django_db


def body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def test_a_pushed_event_is_stored_with_its_device_and_a_redelivery_changes_nothing():
    payload = vendor_fixture("v4_webhook_event.json")
    stored = event_webhook_store(body=body(payload))
    visitor = payload["identification"]["visitor_id"]
    assert stored.event_id == payload["event_id"] and stored.raw == payload
    assert stored.device == Device.objects.get(visitor_id=visitor)
    again = event_webhook_store(body=body(payload))
    assert again.pk == stored.pk
    assert FingerprintEvent.objects.count() == 1 and not FingerprintEventVersion.objects.exists()


def test_a_different_later_copy_is_kept_beside_the_original():
    payload = vendor_fixture("v4_webhook_event.json")
    original = event_webhook_store(body=body(payload))
    patched = copy.deepcopy(payload)
    patched["tags"] = {"reviewed": True}
    event_webhook_store(body=body(patched))
    original.refresh_from_db()
    assert original.raw == payload  # the evidence a decision may have used
    (version,) = FingerprintEventVersion.objects.all()
    assert (version.event, version.source, version.raw) == (original, "webhook", patched)


def test_a_stripped_snapshot_is_not_brought_back():
    payload = vendor_fixture("v4_webhook_event.json")
    stored = event_webhook_store(body=body(payload))
    FingerprintEvent.objects.filter(pk=stored.pk).update(raw={})  # erased or past retention
    event_webhook_store(body=body({**payload, "tags": {"late": True}}))
    stored.refresh_from_db()
    assert stored.raw == {} and not FingerprintEventVersion.objects.exists()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"event_id": "1700000000000.abcdef", "suspect_score": NaN}', "not standard JSON"),
        (b'{"suspect_score": 1}', "neither event_id"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_what_is_not_an_event_is_refused_and_nothing_is_stored(raw, message):
    with pytest.raises(EventFormatError, match=message):
        event_webhook_store(body=raw)
    assert not FingerprintEvent.objects.exists() and not Device.objects.exists()
