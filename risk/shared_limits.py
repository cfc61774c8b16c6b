"""Rate limiters shared by every process and machine, in Redis (REDIS_URL).

The DRN limiter (FINGERPRINT_DRN_RPS) and the backfills' Server API budget (`--rps`) are
quotas of one API key, so they must hold for the whole deployment, not per process. This is
the same reservation scheme as `risk.fingerprint.rate_limit.RateLimiter` (GCRA: the bucket is
one "next free slot" time; a caller reserves the next slot and sleeps outside the lock), run
as one Lua script so Redis does the read-and-reserve atomically, on Redis's clock. `limits`
(the library) was considered: it answers "allowed now?" but cannot reserve a future slot,
which the signup's time budget and FIFO waiting need.

With REDIS_URL unset the limiters are the per-process ones (a one-process deployment, or
development). If Redis fails mid-flight a limiter falls back to its per-process bucket
(logged) rather than failing the signup.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

from risk.fingerprint.rate_limit import RateLimiter, shared_limiter

logger = logging.getLogger(__name__)

# KEYS[1] = bucket; ARGV = interval_us, burst, timeout_us (-1: wait as long as needed).
# Returns the microseconds to wait for the reserved slot, or -1 (nothing reserved).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - (tonumber(ARGV[2]) - 1) * interval
if wait < 0 then wait = 0 end
local timeout = tonumber(ARGV[3])
if timeout >= 0 and wait > timeout then return -1 end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return wait
"""

_lock = threading.Lock()
_clients: dict[str, object] = {}
_limiters: dict[tuple, RedisRateLimiter] = {}


def redis_client(url: str | None = None):
    """One client (connection pool, fork-safe) per URL per process."""
    import redis

    url = url or settings.REDIS_URL
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30
            )
        return client


def redis_key(*parts: str) -> str:
    return ":".join((getattr(settings, "REDIS_KEY_PREFIX", "fpdjango"), *parts))


class RedisRateLimiter:
    """At most `rps` acquisitions per second across every process using the same `name`."""

    def __init__(self, name: str, rps: float, *, burst: int = 1, url: str | None = None) -> None:
        self.name = name
        self.key = redis_key("limiter", name)
        self._client = redis_client(url)
        self._script = self._client.register_script(_RESERVE)
        self._fallback = RateLimiter(rps, burst=burst)
        self.set_rate(rps, burst=burst)

    def __repr__(self) -> str:
        return f"RedisRateLimiter({self.name!r}, rate={self.rate:g}, burst={self.burst})"

    def set_rate(self, rps: float, *, burst: int | None = None) -> None:
        self._fallback.set_rate(rps, burst=burst)
        self.rate, self.burst = self._fallback.rate, self._fallback.burst

    def acquire(self, timeout: float | None = None) -> bool:
        import redis

        interval_us = max(1, round(1_000_000 / self.rate))
        timeout_us = -1 if timeout is None else int(timeout * 1_000_000)
        try:
            wait_us = int(self._script(keys=[self.key], args=[interval_us, self.burst, timeout_us]))
        except redis.RedisError:
            logger.warning("Redis unavailable: limiter %s holds per process", self.name)
            return self._fallback.acquire(timeout)
        if wait_us < 0:
            return False
        if wait_us:
            time.sleep(wait_us / 1_000_000)
        return True


def limiter(name: str, rps: float, *, burst: int = 1) -> RateLimiter | RedisRateLimiter:
    """The limiter for `name`: shared through Redis when REDIS_URL is set, else per process."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return shared_limiter(name, rps, burst=burst)
    key = (url, name, float(rps), int(burst))
    with _lock:
        found = _limiters.get(key)
    if found is None:
        found = RedisRateLimiter(name, rps, burst=burst, url=url)
        with _lock:
            found = _limiters.setdefault(key, found)
    return found
