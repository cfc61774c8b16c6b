"""Signup throttles shared by every process and machine (counters in Django's default cache).

Two limits, both part of the signup verdict (risk.verdict), so every signup flow has them:
* per client network (`SIGNUP_THROTTLE_RATE`), before anything else: the client IP as the IP
  check reads it (risk/client_ip.py), an IPv6 client counted by its /64 (one subscriber's
  allocation, which hands out fresh addresses freely);
* per device (`SIGNUP_THROTTLE_VISITOR_RATE`), once the event has passed the server-side
  checks (a stolen event id replayed from elsewhere must not use up its owner's allowance).

Fixed windows counted with `cache.add` + `cache.incr`: atomic with Redis, so N requests are
allowed across all processes, not N per process. The database cache is shared too, but its
incr is a read then a write, so under heavy concurrency a few extra requests can get through.
A window allows up to 2N in a burst straddling its boundary. Keys hold a keyed hash of the
network or visitor id, never the value: an unsalted hash of an IPv4 address is reversible.

When the cache fails, signups go through (logged at ERROR, counted in
`fpdjango_cache_errors_total`): the throttles only cap volume; the device limits, the
checks and the decision are kept in the database and still hold (docs/security.md).
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.utils.crypto import salted_hmac

from risk import observability
from risk.client_ip import network_key, request_client_ip
from risk.conf import rate_parse, risk_settings
from risk.services.allowlist import network_allowlisted

logger = logging.getLogger(__name__)


class SignupThrottledError(Exception):
    """Too many signups from one network or device; retry after `retry_after` seconds."""

    def __init__(self, retry_after: float, *, scope: str) -> None:
        super().__init__(f"{scope}: retry after {retry_after:.0f}s")
        self.retry_after = retry_after
        self.scope = scope


def _hit(scope: str, ident: str, rate: str) -> float | None:
    """Count one request; seconds until the window ends if over the limit, else None."""
    parsed = rate_parse(rate)
    if parsed is None:
        return None
    limit, period = parsed
    now = time.time()
    window = int(now // period)
    digest = salted_hmac("risk.throttle", ident, algorithm="sha256").hexdigest()[:32]
    key = f"risk:throttle:{scope}:{period}:{window}:{digest}"
    try:
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
    except Exception:  # any cache failure: let the signup through (see the module doc)
        logger.error("signup throttle %s skipped: the cache is unavailable", scope, exc_info=True)
        observability.cache_error_record(use="throttle")
        return None
    if count <= limit:
        return None
    observability.throttled_record(scope=scope)
    return max(1.0, (window + 1) * period - now)


_COUNTED = "risk.network_throttle_counted"  # a WSGI environ extension key: once per request


def signup_network_throttle(request) -> None:
    """Count the request's signup against its client network, once per request (a DRF view can
    count it before parsing, with risk.integrations.drf.SignupNetworkThrottle, and the verdict
    then does not count it again); SignupThrottledError when it is over SIGNUP_THROTTLE_RATE."""
    if request.META.get(_COUNTED):
        return
    request.META[_COUNTED] = True
    client_ip = request_client_ip(request)
    rate = risk_settings().throttle_rate
    if not rate or network_allowlisted(client_ip):
        return
    wait = _hit("ip", network_key(client_ip) or "unknown", rate)
    if wait is not None:
        raise SignupThrottledError(wait, scope="ip")


def signup_device_throttle(visitor_id: str) -> None:
    """Count a signup from this device; SignupThrottledError when it is over
    SIGNUP_THROTTLE_VISITOR_RATE. (An allowlisted signup does not call it.)"""
    if not visitor_id:
        return
    wait = _hit("visitor", visitor_id, risk_settings().throttle_visitor_rate)
    if wait is not None:
        raise SignupThrottledError(wait, scope="visitor")
