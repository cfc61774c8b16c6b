"""What the sandbox's APIs share: the store, the keys, DRN's rate, and the request counters.
The API modules (sandbox/api/) take this; the dispatch (sandbox/app.py) builds on it."""

from __future__ import annotations

import hmac
import threading
from collections import Counter, defaultdict

from . import drn, sealed
from .routing import Request
from .store import Store


class SandboxState:
    def __init__(
        self,
        store: Store,
        *,
        secret_keys: tuple[str, ...] = ("sandbox-secret-key",),
        public_key: str = "sandbox-public-key",
        trust_xff: bool = False,
        sealed_key: bytes | str | None = None,
    ) -> None:
        self.store = store
        self.secret_keys = tuple(secret_keys)
        self.public_key = public_key
        self.trust_xff = trust_xff
        self.sealed_key = sealed.decode_key(sealed_key) if sealed_key else None
        self.buckets = drn.TokenBucket()
        self.load_rate()
        self._stats_lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults_applied: Counter[str] = Counter()

    def known_secret(self, key: str) -> bool:
        return any(hmac.compare_digest(key, known) for known in self.secret_keys)

    def bearer(self, req: Request) -> str | None:
        value = req.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def load_rate(self) -> None:
        """DRN's rate limit: the control API's setting, else the default."""
        self.drn_rps = float(self.store.get_setting("drn_rps") or drn.DEFAULT_RPS)
        self.drn_burst = int(self.store.get_setting("drn_burst") or drn.DEFAULT_BURST)

    def count(self, name: str, status: int, *, fault: bool = False) -> None:
        with self._stats_lock:
            if fault:
                self._faults_applied[name] += 1
                return
            self._requests[name] += 1
            self._statuses[name][str(status)] += 1

    def stats(self) -> dict:
        with self._stats_lock:
            return {
                "requests": dict(self._requests),
                "statuses": {name: dict(counts) for name, counts in self._statuses.items()},
                "faults_applied": dict(self._faults_applied),
                "total": sum(self._requests.values()),
            }

    def stats_clear(self) -> None:
        with self._stats_lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults_applied.clear()
