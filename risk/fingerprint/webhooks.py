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
        candidate = signature.strip().lower().encode("utf-8", "replace")
        if version == "v1" and hmac.compare_digest(candidate, expected.encode()):
            return True
    return False
