"""Sealed client results: the layout Fingerprint uses, produced with a local key.

base64( 9E 85 DC ED | 12-byte nonce | AES-256-GCM(raw-deflate(JSON)) with its 16-byte tag )
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEADER = bytes.fromhex("9E85DCED")


def decode_key(key: bytes | str) -> bytes:
    """Accept the raw 32 bytes or their base64 text (as shown in the dashboard)."""
    raw = base64.b64decode(key) if isinstance(key, str) else key
    if len(raw) != 32:
        raise ValueError("sealed results need a 32-byte AES-256 key")
    return raw


def seal(event: dict[str, Any], key: bytes | str) -> str:
    compressor = zlib.compressobj(wbits=-15)
    plain = compressor.compress(json.dumps(event).encode()) + compressor.flush()
    nonce = os.urandom(12)
    sealed = AESGCM(decode_key(key)).encrypt(nonce, plain, None)
    return base64.b64encode(HEADER + nonce + sealed).decode()


def unseal(blob: str, keys: Iterable[bytes | str]) -> dict[str, Any]:
    """Decrypt with the first key that authenticates; raise ValueError otherwise."""
    data = base64.b64decode(blob)
    if data[:4] != HEADER:
        raise ValueError("not a sealed result (bad header)")
    nonce, sealed = data[4:16], data[16:]
    for key in keys:
        try:
            plain = AESGCM(decode_key(key)).decrypt(nonce, sealed, None)
        except InvalidTag:  # during key rotation: try the next key
            continue
        return json.loads(zlib.decompress(plain, -15))
    raise ValueError("no key decrypts this sealed result")
