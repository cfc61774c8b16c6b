"""The one rate limiter for calls to Fingerprint's APIs, shared by every process and machine.

The DRN limit (FINGERPRINT_DRN_RPS) and the Server API budget of background work (the
backfills' `--rps`, the suspect feedback) are quotas of one API key, so they must hold for the
whole deployment, not per process. `api_limiter` returns the limiter for a name: in Redis
when RISK_REDIS_URL is set, else the per-process one
(risk.fingerprint.rate_limit, a one-process deployment or development). The Redis one is the
same reservation scheme (GCRA: the bucket is one "next free slot" time; a caller reserves the
next slot and sleeps outside the lock), run as one Lua script so that Redis does the
read-and-reserve atomically, on Redis's clock. `limits` (the library) was considered: it
answers "allowed now?" but cannot reserve a future slot, which the signup's time budget and
first-come-first-served waiting need. If Redis fails mid-flight the limiter falls back to its
per-process bucket (logged) rather than failing the signup.

The signup throttles (risk/throttles.py) are another need: they count incoming signups.
"""

from __future__ import annotations

import logging
import threading
import time

from risk.conf import risk_settings
from risk.fingerprint.rate_limit import Limiter, ProcessRateLimiter, process_limiter

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

# The Server API budget that background work draws from (backfills at their `--rps`, the
# suspect feedback): one bucket, so together they leave the key's quota to live signups.
SERVER_API_BUDGET = "backfill"

_lock = threading.Lock()
_clients: dict[str, object] = {}
_limiters: dict[tuple, RedisRateLimiter] = {}


def redis_client(url: str | None = None):
    """One client (connection pool, fork-safe) per URL per process."""
    import redis

    url = url or risk_settings().redis_url
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(
                url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=30
            )
        return client


def redis_key(*parts: str) -> str:
    return ":".join((risk_settings().redis_key_prefix, *parts))


class RedisRateLimiter:
    """At most `rps` acquisitions per second across every process using the same `name`."""

    def __init__(self, name: str, rps: float, *, burst: int = 1, url: str | None = None) -> None:
        self.name = name
        self.key = redis_key("limiter", name)
        self._client = redis_client(url)
        self._script = self._client.register_script(_RESERVE)
        self._fallback = ProcessRateLimiter(rps, burst=burst)
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


class _Unlimited:
    def acquire(self, timeout: float | None = None) -> bool:
        return True


UNLIMITED = _Unlimited()


def api_limiter(name: str, rps: float, *, burst: int = 1) -> Limiter:
    """The limiter for `name`: shared through Redis when RISK_REDIS_URL is set, else per
    process; rps <= 0: unlimited."""
    if rps <= 0:
        return UNLIMITED
    url = risk_settings().redis_url
    if not url:
        return process_limiter(name, rps, burst=burst)
    key = (url, name, float(rps), int(burst))
    with _lock:
        found = _limiters.get(key)
    if found is None:
        found = RedisRateLimiter(name, rps, burst=burst, url=url)
        with _lock:
            found = _limiters.setdefault(key, found)
    return found
