"""Sealed client results, produced the way Fingerprint does with a local key.

The product opens them with `risk.fingerprint.sealed`; the sandbox only seals:
base64( 9E 85 DC ED | 12-byte nonce | AES-256-GCM(raw-deflate(JSON)) with its 16-byte tag ).
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from risk.fingerprint.sealed import SEALED_HEADER, decode_key

__all__ = ["decode_key", "seal"]


def seal(event: dict[str, Any], key: bytes | str) -> str:
    compressor = zlib.compressobj(wbits=-15)
    plain = compressor.compress(json.dumps(event).encode()) + compressor.flush()
    nonce = os.urandom(12)
    sealed = AESGCM(decode_key(key)).encrypt(nonce, plain, None)
    return base64.b64encode(SEALED_HEADER + nonce + sealed).decode()
