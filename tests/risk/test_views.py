"""POST /api/fingerprint/webhook: signed events are stored, anything else is refused."""

import json

import pytest
from rest_framework.test import APIClient

from risk.models import Device, FingerprintEvent
from tests.conftest import vendor_fixture_bytes
from tests.support.webhooks import SECRET, post, sign

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fixture", ["v4_webhook_event.json", "v3_webhook.json"])
def test_signed_vendor_webhook_is_stored(settings, fixture):
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    body = vendor_fixture_bytes(fixture)
    response = post(body, sign(body))
    assert response.status_code == 200
    snapshot = FingerprintEvent.objects.get(event_id=response.json()["event_id"])
    assert snapshot.raw == json.loads(body)
    assert Device.objects.filter(visitor_id=snapshot.visitor_id).exists()
    assert post(body, sign(body)).status_code == 200  # redelivery is idempotent
    assert FingerprintEvent.objects.count() == 1


@pytest.mark.parametrize("signature", [None, "v1=deadbeef", "garbage"])
def test_bad_signature_is_401_and_stores_nothing(settings, signature):
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    body = vendor_fixture_bytes("v4_webhook_event.json")
    response = post(body, signature)
    assert response.status_code == 401 and response.json()["code"] == "invalid_signature"
    assert FingerprintEvent.objects.count() == 0


def test_signed_garbage_is_400(settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    for body in (b"not json", b'{"no": "event"}'):
        response = post(body, sign(body))
        assert response.status_code == 400 and response.json()["code"] == "invalid_event"
    assert FingerprintEvent.objects.count() == 0


def test_disabled_without_a_secret(settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = ""
    assert post(b"{}", sign(b"{}")).status_code == 404


@pytest.mark.django_db
def test_non_ascii_webhook_signature_is_401(settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = "whsec"
    response = APIClient().post(
        "/api/fingerprint/webhook",
        b"{}",
        content_type="application/json",
        HTTP_FPJS_EVENT_SIGNATURE="v1=\u00e9\u00e9",
    )
    assert response.status_code == 401
