"""A thread-safe client-side rate limiter: a token bucket with reservations.

Fingerprint answers 429 when a key goes over its quota, and every 429 still costs a request.
Spending the quota evenly on our side keeps us under it. `acquire()` reserves the next free
slot under a lock and sleeps outside it, so waiting threads are served in arrival order
without spinning, and a caller with a deadline gets False at once when its slot would come
too late (nothing is reserved then).

Share one limiter per API key per process (`process_limiter`): every thread must draw from the
same bucket for the rate to hold. Across processes, risk.shared_limits keeps the same bucket in
Redis and falls back to this one.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Limiter(Protocol):
    """What the API clients and the jobs draw from: `acquire` blocks until a slot is theirs, or
    returns False when it would come later than `timeout` seconds from now."""

    def acquire(self, timeout: float | None = None) -> bool: ...


class ProcessRateLimiter:
    """At most `rps` acquisitions per second on average, at most `burst` at once."""

    def __init__(self, rps: float, *, burst: int = 1) -> None:
        self._lock = threading.Lock()
        self._configure(rps, burst)
        self._tokens = float(self.burst)
        self._updated = time.monotonic()

    def _configure(self, rps: float, burst: int) -> None:
        if not rps > 0:
            raise ValueError("rate must be a positive number of requests per second")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = float(rps)
        self.burst = int(burst)

    def __repr__(self) -> str:
        return f"ProcessRateLimiter(rate={self.rate:g}, burst={self.burst})"

    def set_rate(self, rps: float, *, burst: int | None = None) -> None:
        """Change the rate in place (e.g. a backfill's --rps); reservations already made stand."""
        with self._lock:
            self._refill(time.monotonic())
            self._configure(rps, self.burst if burst is None else burst)
            self._tokens = min(self._tokens, float(self.burst))

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self, timeout: float | None = None) -> bool:
        """Take one slot, sleeping until it comes. False (and no slot taken) when the slot
        would come later than `timeout` seconds from now; None waits as long as needed."""
        with self._lock:
            now = time.monotonic()
            self._refill(now)
            # Tokens may be negative: each waiting thread has reserved one ahead of time.
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if timeout is not None and wait > timeout:
                return False
            self._tokens -= 1
        if wait > 0:
            time.sleep(wait)
        return True


_registry_lock = threading.Lock()
_registry: dict[tuple[str, float, int], ProcessRateLimiter] = {}


def process_limiter(name: str, rps: float, *, burst: int = 1) -> ProcessRateLimiter:
    """The process-wide limiter for `name` at this rate (created on first use). A new rate
    (settings changed) gets a fresh limiter rather than disturbing threads already waiting."""
    key = (name, float(rps), int(burst))
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = ProcessRateLimiter(rps, burst=burst)
        return limiter
