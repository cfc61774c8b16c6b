"""Verify Fingerprint webhook signatures (header `FPJS-Event-Signature`)."""

import hashlib
import hmac


def webhook_signature_valid(*, header: str, body: bytes, secret: str) -> bool:
    """True when any `v1=<hex>` item of the header is HMAC-SHA256(body, secret).

    The header may carry several comma-separated signatures (one per active secret during
    rotation); items of unknown versions are ignored. Comparison is constant-time.
    """
    if not header or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    for item in header.split(","):
        version, _, signature = item.strip().partition("=")
        if version == "v1" and hmac.compare_digest(signature.strip().lower(), expected):
            return True
    return False
