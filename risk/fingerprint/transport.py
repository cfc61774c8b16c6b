"""HTTP transport shared by the Fingerprint clients (Server API and DRN).

One urllib3 connection pool per client (keep-alive to Fingerprint matters: a TLS handshake
costs more than the lookup), used directly: a JSON GET needs none of what `requests` adds on
top of it (sessions' settings merging, cookie jars, hooks).

Every call has a total time budget: attempts use what is left of it as their read timeout,
and retries (connection errors, 5xx, 429) follow urllib3's `Retry` policy for counting and
jittered exponential backoff, but never start when the budget is spent. Read timeouts are not
retried: a slow Fingerprint gets slower when hammered. An optional client-side rate limiter
gives out a slot before every attempt, retries included. A caller that must not spend more
quota (the signup path) turns off retrying 429s per call.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import certifi
import urllib3
from requests.utils import get_environ_proxies
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from risk.fingerprint.errors import (
    AuthError,
    FingerprintError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    UnavailableError,
)
from risk.fingerprint.parsing import NonStandardJSONError, strict_json_loads
from risk.fingerprint.rate_limit import Limiter

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "fpdjango/1.0 (+https://github.com/fpdjango)"

# Called after every request with (service, seconds, FingerprintError or None); the app
# registers its metrics here (risk/observability.py) so this package stays free of them.
CALL_OBSERVERS: list[Callable[[str, float, Exception | None], None]] = []


class BudgetedTransport:
    """Thread-safe JSON-over-HTTP with a time budget per call. `service` names it in errors."""

    def __init__(
        self,
        *,
        base_url: str,
        headers: dict[str, str],
        service: str,
        connect_timeout_s: float = 1.0,
        max_retries: int = 2,
        backoff_s: float = 0.1,
        pool_size: int = 64,
        limiter: Limiter | None = None,
        not_found_code: str = "not_found",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.connect_timeout_s = connect_timeout_s
        self.backoff_s = backoff_s
        self.limiter = limiter
        self.not_found_code = not_found_code
        self._retry = Retry(
            total=max_retries,
            connect=max_retries,
            read=0,
            status=max_retries,
            other=0,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=None,
            backoff_factor=backoff_s,
            backoff_jitter=backoff_s,
            backoff_max=1.0,
            raise_on_status=False,
        )
        self._headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            **headers,
        }
        # Proxy settings come from the environment (HTTPS_PROXY, NO_PROXY...), read once.
        pool_kw = {"maxsize": pool_size, "block": False, "ca_certs": certifi.where()}
        proxies = get_environ_proxies(self.base_url)  # {} when NO_PROXY covers the host
        proxy = proxies.get(self.base_url.split(":", 1)[0]) or proxies.get("all")
        self._pool = (
            urllib3.ProxyManager(proxy, num_pools=2, **pool_kw)
            if proxy
            else urllib3.PoolManager(num_pools=2, **pool_kw)
        )

    def close(self) -> None:
        self._pool.clear()

    def request(
        self,
        method: str,
        path: str,
        *,
        budget_s: float,
        retry_rate_limited: bool = True,
        **kwargs: Any,
    ) -> dict:
        """Send, retrying inside the budget; return the JSON body or raise a FingerprintError.
        Every call (its duration and error, if any) is reported to CALL_OBSERVERS (metrics).

        With `retry_rate_limited=False` a 429 is final: retrying it spends more of the quota
        that is already exhausted (and an attacker's flood of made-up ids would triple it)."""
        started = time.monotonic()
        error: FingerprintError | None = None
        try:
            return self._request(
                method, path, budget_s=budget_s, retry_rate_limited=retry_rate_limited, **kwargs
            )
        except FingerprintError as exc:
            error = exc
            raise
        finally:
            for observe in CALL_OBSERVERS:
                observe(self.service, time.monotonic() - started, error)

    def _request(
        self,
        method: str,
        path: str,
        *,
        budget_s: float,
        retry_rate_limited: bool = True,
        **kwargs: Any,
    ) -> dict:
        url = self.base_url + path
        if params := kwargs.pop("params", None):
            url += "?" + urlencode(params)
        deadline = time.monotonic() + budget_s
        retry = self._retry
        while True:
            if self.limiter is not None and not self.limiter.acquire(
                timeout=max(0.0, deadline - time.monotonic() - 0.01)
            ):
                raise RateLimitedError(
                    f"no {self.service} request slot within {budget_s:g}s (client-side rate limit)",
                    code="client_rate_limited",
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UnavailableError(
                    f"{self.service} budget of {budget_s:g}s spent", code="timeout"
                )
            error: Exception | None = None
            response = None
            try:
                response = self._pool.request(
                    method,
                    url,
                    headers=self._headers,
                    timeout=urllib3.Timeout(
                        connect=min(self.connect_timeout_s, remaining), read=remaining
                    ),
                    retries=False,  # this loop retries, within the budget
                    # A redirect would carry our key to another host (v3's Auth-API-Key is
                    # not an Authorization header): treat 3xx as an error instead.
                    redirect=False,
                    **kwargs,
                )
            except ConnectTimeoutError as exc:  # and NewConnectionError (refused, DNS...)
                error = exc
            except ReadTimeoutError as exc:  # not retried
                raise UnavailableError(
                    f"{self.service} did not answer within {budget_s:g}s", code="timeout"
                ) from exc
            except ProtocolError as exc:  # connection dropped (e.g. a stale keep-alive)
                error = exc
            except HTTPError as exc:
                raise UnavailableError(
                    f"request to {self.service} failed: {type(exc).__name__}"
                ) from exc

            if response is not None and (
                response.status not in RETRY_STATUSES
                or (response.status == 429 and not retry_rate_limited)
            ):
                return self._parse(response)
            try:
                retry = retry.increment(
                    method=None,  # allowed_methods=None: every method is retryable here
                    url=path,
                    response=response,
                    error=ConnectTimeoutError(str(error)) if error is not None else None,
                )
            except MaxRetryError:
                return self._give_up(response, error)
            # urllib3 does not wait before the first retry; give it a short jittered pause too.
            backoff = max(retry.get_backoff_time(), random.uniform(0.5, 1.0) * self.backoff_s)
            # Retry only if the next attempt still has a useful slice of the budget.
            if time.monotonic() + backoff + 0.05 >= deadline:
                return self._give_up(response, error)
            logger.info(
                "retrying %s %s %s after %s (attempt %d)",
                self.service,
                method,
                path,
                response.status if response is not None else type(error).__name__,
                len(retry.history) + 1,
            )
            time.sleep(backoff)

    def _give_up(self, response: urllib3.BaseHTTPResponse | None, error: Exception | None) -> dict:
        if response is not None:
            return self._parse(response)
        raise UnavailableError(
            f"could not connect to {self.service}: {type(error).__name__}",
            code="connection_error",
        ) from error

    def _parse(self, response: urllib3.BaseHTTPResponse) -> dict:
        status, data = response.status, response.data
        nonstandard = False
        try:
            body = strict_json_loads(data) if data else None
        except NonStandardJSONError:
            body, nonstandard = None, True
        except ValueError:  # also bad UTF-8
            body = None
        if 200 <= status < 300:
            if status == 204 or (body is None and not data):
                return {}
            if nonstandard:  # NaN/Infinity: jsonb would refuse to store it
                raise UnavailableError(
                    f"{self.service} answered with non-standard JSON (NaN or Infinity)",
                    status=status,
                    code="nonstandard_json",
                )
            if not isinstance(body, dict):
                raise UnavailableError(
                    f"{self.service} answered with a non-JSON body", status=status
                )
            return body
        error = body.get("error") if isinstance(body, dict) else None
        code = message = ""
        if isinstance(error, dict):
            code = str(error.get("code") or "")
            message = str(error.get("message") or "")
        elif isinstance(error, str):  # some v3 errors
            message = error
        text = f"{self.service} answered {status}" + (f" {code}" if code else "")
        if message:
            text += f": {message[:200]}"
        if status == 404:
            raise NotFoundError(text, status=status, code=code or self.not_found_code)
        if status == 429:
            raise RateLimitedError(text, status=status, code=code or "too_many_requests")
        if status in (401, 403):
            raise AuthError(text, status=status, code=code)
        if status >= 500 or status == 409:  # 409 state_not_ready: try again later
            raise UnavailableError(text, status=status, code=code)
        if 400 <= status < 500:
            raise RequestError(text, status=status, code=code)
        raise FingerprintError(text, status=status, code=code)
