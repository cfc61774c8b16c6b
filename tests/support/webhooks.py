"""Signed webhook requests, and raw HTTP for size caps."""

import hashlib
import hmac
import socket
from urllib.parse import urlsplit

from rest_framework.test import APIClient

SECRET = "whsec-test"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(body: bytes, signature: str | None):
    headers = {"HTTP_FPJS_EVENT_SIGNATURE": signature} if signature is not None else {}
    return APIClient().post(
        "/api/fingerprint/webhook", body, content_type="application/json", **headers
    )


def raw_request(url: str, head: str, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """Send bytes on a socket and return what the server answers before `timeout`."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received
