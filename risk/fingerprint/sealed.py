"""Sealed client results: the agent returns the event encrypted, the server decrypts it.

Layout: base64( 9E 85 DC ED | 12-byte nonce | AES-256-GCM ciphertext | 16-byte tag ), the
plaintext being raw-deflate compressed event JSON. A wrong header, an unknown key or a failed
tag is an error, never a silent pass.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from risk.fingerprint.events import Event, EventFormatError, normalise_event
from risk.fingerprint.parsing import strict_json_loads

SEALED_HEADER = bytes.fromhex("9E85DCED")
_NONCE_LEN = 12
_TAG_LEN = 16


class SealedResultError(ValueError):
    """The blob is not a sealed result we can open with any of our keys."""


def decode_key(key: bytes | str) -> bytes:
    """A 32-byte AES key, given raw or as the base64 text the dashboard shows."""
    try:
        raw = base64.b64decode(key, validate=True) if isinstance(key, str) else key
    except binascii.Error as exc:
        raise SealedResultError("sealed-result key is not valid base64") from exc
    if len(raw) != 32:
        raise SealedResultError("sealed-result keys are 32 bytes (AES-256)")
    return raw


def unseal_payload(blob: str, keys: Iterable[bytes | str]) -> dict:
    """Decrypt with the first key whose tag verifies (several are active during rotation)."""
    try:
        data = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SealedResultError("sealed result is not base64") from exc
    if data[:4] != SEALED_HEADER:
        raise SealedResultError("sealed result has the wrong header")
    if len(data) < 4 + _NONCE_LEN + _TAG_LEN:
        raise SealedResultError("sealed result is truncated")
    nonce, ciphertext = data[4 : 4 + _NONCE_LEN], data[4 + _NONCE_LEN :]
    for key in keys:
        try:
            compressed = AESGCM(decode_key(key)).decrypt(nonce, ciphertext, None)
        except InvalidTag:
            continue
        try:
            payload = strict_json_loads(zlib.decompress(compressed, -15))
        except (zlib.error, ValueError) as exc:
            raise SealedResultError("sealed result does not hold compressed JSON") from exc
        if not isinstance(payload, dict):
            raise SealedResultError("sealed result does not hold a JSON object")
        return payload
    raise SealedResultError("no configured key opens this sealed result")


def unseal_event(blob: str, keys: Iterable[bytes | str]) -> Event:
    try:
        return normalise_event(unseal_payload(blob, keys))
    except EventFormatError as exc:
        raise SealedResultError(f"sealed result is not an event: {exc}") from exc
