"""sandbox/sealed.py: results sealed as Fingerprint seals them open with the product's code."""

from __future__ import annotations

import base64
import os

import pytest

from risk.fingerprint.sealed import SEALED_HEADER, SealedResultError, unseal_payload
from sandbox.sealed import seal

EVENT = {"event_id": "1700000000000.abcdef", "identification": {"visitor_id": "V" * 20}}


@pytest.mark.parametrize("as_text", [False, True])
def test_the_product_opens_what_the_sandbox_seals(as_text):
    key = os.urandom(32)
    blob = seal(EVENT, base64.b64encode(key).decode() if as_text else key)
    assert base64.b64decode(blob).startswith(SEALED_HEADER)
    assert unseal_payload(blob, [key]) == EVENT


def test_each_seal_is_fresh_and_only_its_key_opens_it():
    key = os.urandom(32)
    first, second = seal(EVENT, key), seal(EVENT, key)
    assert first != second  # a new nonce each time
    with pytest.raises(SealedResultError):
        unseal_payload(first, [os.urandom(32)])
