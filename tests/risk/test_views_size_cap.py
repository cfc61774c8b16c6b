"""The webhook caps its body (FINGERPRINT_WEBHOOK_MAX_BYTES): 413 before reading it."""

import io
import json

import pytest
import requests

from risk.models import FingerprintEvent
from risk.views import PayloadTooLarge, RawBodyParser
from tests.conftest import vendor_fixture_bytes
from tests.support.webhooks import SECRET, raw_request, sign

PATH = "/api/fingerprint/webhook"


@pytest.mark.django_db(transaction=True)
def test_announced_oversize_body_is_413_without_being_read(live_server, settings):
    """The client announces 50 MB and sends none of it: an answer that arrives at all proves
    the server did not wait to read the body."""
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    settings.FINGERPRINT_WEBHOOK_MAX_BYTES = 1024
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"FPJS-Event-Signature: v1=00\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
    )
    answer = raw_request(live_server.url, head)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:200]
    assert FingerprintEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_full_oversize_body_is_413_and_a_signed_event_under_the_cap_is_stored(
    live_server, settings
):
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    body = vendor_fixture_bytes("v4_webhook_event.json")
    settings.FINGERPRINT_WEBHOOK_MAX_BYTES = len(body)
    url = live_server.url + PATH
    headers = {"Content-Type": "application/json"}
    padded = body.rstrip() + b" " * 10  # still valid JSON, correctly signed, 10 bytes too big
    response = requests.post(
        url, data=padded, headers={**headers, "FPJS-Event-Signature": sign(padded)}, timeout=10
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert FingerprintEvent.objects.count() == 0
    response = requests.post(
        url, data=body, headers={**headers, "FPJS-Event-Signature": sign(body)}, timeout=10
    )
    assert response.status_code == 200
    assert FingerprintEvent.objects.get().raw == json.loads(body)


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_a_body_without_length_is_read_only_one_byte_past_the_cap(settings):
    """Chunked bodies announce no length: the parser stops reading one byte past the cap."""
    settings.FINGERPRINT_WEBHOOK_MAX_BYTES = 2048
    stream = CountingStream(b"x" * 10_000_000)
    with pytest.raises(PayloadTooLarge):
        RawBodyParser().parse(stream)
    assert stream.bytes_read == 2049
    assert RawBodyParser().parse(CountingStream(b"y" * 2048)) == b"y" * 2048
