"""One shared, pooled client per process for each Fingerprint API, built from current settings.

Clients are cached by the settings they were built from, so `override_settings` in tests (or a
changed key) gets a fresh client while normal traffic reuses one pooled session.
"""

import hashlib
import threading
from collections.abc import Callable
from typing import TypeVar

from risk.conf import risk_settings
from risk.fingerprint.client import FingerprintClient
from risk.fingerprint.drn import DrnClient
from risk.shared_limits import api_limiter

T = TypeVar("T")
_lock = threading.Lock()
_clients: dict[tuple, object] = {}


def _cached(key: tuple, build: Callable[[], T]) -> T:
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = build()
    return client  # type: ignore[return-value]


def fingerprint_client() -> FingerprintClient:
    return _server_api_client("server-api", max_retries=risk_settings().max_retries)


def fingerprint_feedback_client() -> FingerprintClient:
    """The Server API client of the suspect feedback (risk.services.feedback): no retries of
    its own, because its task retries with backoff and every try takes a slot of the Server
    API budget first."""
    return _server_api_client("server-api-feedback", max_retries=0, pool_size=8)


def _server_api_client(name: str, *, max_retries: int, pool_size: int = 64) -> FingerprintClient:
    cfg = risk_settings()
    options = {
        "api_url": cfg.api_url,
        "secret_key": cfg.secret_api_key,
        "api_version": cfg.api_version,
        "timeout_s": cfg.timeout_s,
        "connect_timeout_s": cfg.connect_timeout_s,
        "max_retries": max_retries,
        "pool_size": pool_size,
    }
    return _cached((name, *options.values()), lambda: FingerprintClient(**options))


def drn_client() -> DrnClient:
    """All threads share its session and its rate limiter (FINGERPRINT_DRN_RPS per key)."""
    cfg = risk_settings()
    # The limiter is named by a hash of the key: one budget per key, and no key in memory dumps.
    key_id = hashlib.sha256(cfg.secret_api_key.encode()).hexdigest()[:12]
    return _cached(
        (
            "drn",
            cfg.drn_api_url,
            cfg.secret_api_key,
            cfg.drn_rps,
            cfg.redis_url,  # the limiter is shared through it when set
            cfg.timeout_s,
            cfg.connect_timeout_s,
            cfg.max_retries,
        ),
        lambda: DrnClient(
            api_url=cfg.drn_api_url,
            secret_key=cfg.secret_api_key,
            timeout_s=cfg.timeout_s,
            connect_timeout_s=cfg.connect_timeout_s,
            max_retries=cfg.max_retries,
            limiter=api_limiter(f"drn:{key_id}", cfg.drn_rps),
        ),
    )
