"""risk/fingerprint/sealed.py: sealed client results in the documented format; errors never pass."""

import base64
import json
import os
import zlib

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from risk.fingerprint.sealed import SEALED_HEADER, SealedResultError, unseal_event
from tests.conftest import vendor_fixture

KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)


def seal(payload, key=KEY, header=SEALED_HEADER) -> str:
    compressor = zlib.compressobj(wbits=-15)
    plain = compressor.compress(json.dumps(payload).encode()) + compressor.flush()
    nonce = os.urandom(12)
    return base64.b64encode(header + nonce + AESGCM(key).encrypt(nonce, plain, None)).decode()


def test_unseal_vendor_event_with_rotated_keys():
    raw = vendor_fixture("v4_get_event_200.json")
    event = unseal_event(seal(raw), [base64.b64encode(OTHER_KEY).decode(), KEY])
    assert event.event_id == raw["event_id"] and event.raw == raw


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (lambda: seal({"event_id": "1.a"}, key=OTHER_KEY), "no configured key"),
        (lambda: seal({"event_id": "1.a"}, header=b"\x00\x00\x00\x00"), "wrong header"),
        (lambda: "!!! not base64", "not base64"),
        (lambda: base64.b64encode(SEALED_HEADER + b"short").decode(), "truncated"),
        (lambda: seal(["not", "an", "object"]), "JSON object"),
        (lambda: seal({"neither": "shape"}), "not an event"),
    ],
)
def test_bad_sealed_results_are_errors(blob, message):
    with pytest.raises(SealedResultError, match=message):
        unseal_event(blob(), [KEY])


def test_tampered_ciphertext_fails_the_tag():
    data = bytearray(base64.b64decode(seal({"event_id": "1.a"})))
    data[-1] ^= 1
    with pytest.raises(SealedResultError):
        unseal_event(base64.b64encode(bytes(data)).decode(), [KEY])
