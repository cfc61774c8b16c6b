"""Signup throttles shared by every process and machine (counters in the Django cache).

Two limits, both off when their rate is empty:
* per client IP (`SIGNUP_THROTTLE_RATE`), before anything else, with the same IP resolver
  as the IP check (risk/client_ip.py, RISK_TRUSTED_PROXY_COUNT);
* per device (`SIGNUP_THROTTLE_VISITOR_RATE`), once the event has told us the visitor id
  (`signup_visitor_throttle`).

Fixed windows counted with `cache.add` + `cache.incr`: atomic with Redis (REDIS_URL), so N
requests are allowed across all processes, not N per process. The database cache (no Redis)
is shared too, but its incr is a read then a write, so under heavy concurrency a few extra
requests can get through. A window allows up to 2N in a burst straddling its boundary.
The cache being unreachable lets requests through (logged): throttles are a convenience on
top of Fingerprint's checks, not worth refusing signups over.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.checks import Error, register
from rest_framework.throttling import BaseThrottle

from risk import observability
from risk.client_ip import request_client_ip

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class VisitorThrottledError(Exception):
    """Too many signups from one device; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f}s")
        self.retry_after = retry_after


def rate_parse(rate: str) -> tuple[int, int] | None:
    """'20/min' -> (20, 60); '' -> None (off). Periods: s, m(in), h(our), d(ay), or '20/30s'."""
    rate = (rate or "").strip()
    if not rate:
        return None
    count, _, period = rate.partition("/")
    period = period.strip().lower()
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(digits) :][:1]
    if not count.strip().isdigit() or unit not in _PERIODS or int(count) < 1:
        raise ValueError(f"{rate!r} is not a rate like 20/min, 300/hour or 5/10s")
    return int(count), int(digits or 1) * _PERIODS[unit]


def _hit(scope: str, ident: str, rate: str) -> float | None:
    """Count one request; seconds until the window ends if over the limit, else None."""
    parsed = rate_parse(rate)
    if parsed is None:
        return None
    limit, period = parsed
    now = time.time()
    window = int(now // period)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]  # no IPs or ids in key names
    key = f"throttle:{scope}:{period}:{window}:{digest}"
    try:
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
    except Exception:  # any cache failure: let the request through
        logger.warning("signup throttle %s skipped: the cache is unavailable", scope, exc_info=True)
        return None
    if count <= limit:
        return None
    observability.throttled_record(scope=scope)
    return max(1.0, (window + 1) * period - now)


def signup_visitor_throttle(visitor_id: str) -> float | None:
    """Count a signup from this device; the seconds to wait when it is over
    SIGNUP_THROTTLE_VISITOR_RATE, else None."""
    if not visitor_id:
        return None
    return _hit("visitor", visitor_id, getattr(settings, "SIGNUP_THROTTLE_VISITOR_RATE", ""))


@register()
def check_throttle_rates(app_configs=None, **kwargs) -> list[Error]:
    """A bad rate is reported at startup (`manage.py check`), not as a 500 at the first signup."""
    errors = []
    for name in ("SIGNUP_THROTTLE_RATE", "SIGNUP_THROTTLE_VISITOR_RATE"):
        try:
            rate_parse(getattr(settings, name, ""))
        except ValueError as exc:
            errors.append(Error(f"{name}: {exc}.", id="risk.E020", obj=name))
    return errors


class SignupIpThrottle(BaseThrottle):
    """DRF throttle for the signup views: SIGNUP_THROTTLE_RATE per trusted client IP."""

    def allow_request(self, request, view) -> bool:
        ip = request_client_ip(request)
        self._wait = _hit("ip", ip or "unknown", getattr(settings, "SIGNUP_THROTTLE_RATE", ""))
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
