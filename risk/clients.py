"""One shared, pooled Fingerprint client per process, built from the current settings."""

import threading

from risk.conf import risk_settings
from risk.fingerprint.client import FingerprintClient

_lock = threading.Lock()
_clients: dict[tuple, FingerprintClient] = {}


def fingerprint_client() -> FingerprintClient:
    cfg = risk_settings()
    key = (
        cfg.api_url,
        cfg.secret_api_key,
        cfg.api_version,
        cfg.timeout_s,
        cfg.connect_timeout_s,
        cfg.max_retries,
    )
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = FingerprintClient(
                    api_url=cfg.api_url,
                    secret_key=cfg.secret_api_key,
                    api_version=cfg.api_version,
                    timeout_s=cfg.timeout_s,
                    connect_timeout_s=cfg.connect_timeout_s,
                    max_retries=cfg.max_retries,
                )
                _clients[key] = client
    return client
