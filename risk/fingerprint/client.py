"""Fingerprint Server API client: v4 by default, v3 for legacy workspaces.

One pooled `requests.Session` per client (keep-alive to Fingerprint matters: a TLS handshake
costs more than the lookup). Every call has a total time budget: attempts use the remaining
budget as their read timeout, and retries (connection errors, 5xx, 429) follow urllib3's `Retry`
policy for counting and jittered exponential backoff, but never start when the budget is spent.
Read timeouts are not retried: a slow Fingerprint gets slower when hammered.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError
from urllib3.util.retry import Retry

from risk.fingerprint.errors import (
    AuthError,
    FingerprintError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    UnavailableError,
)
from risk.fingerprint.events import Event, EventFormatError, normalise_event

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "fpdjango/1.0 (+https://github.com/fpdjango)"


@dataclass(frozen=True)
class SearchPage:
    events: list[Event]
    pagination_key: str | None


class FingerprintClient:
    """Thread-safe; build one per process and share it (see `risk.clients`)."""

    def __init__(
        self,
        *,
        api_url: str,
        secret_key: str,
        api_version: str = "v4",
        timeout_s: float = 2.0,
        connect_timeout_s: float = 1.0,
        max_retries: int = 2,
        backoff_s: float = 0.1,
        pool_size: int = 64,
    ) -> None:
        if api_version not in ("v4", "v3"):
            raise ValueError("api_version must be 'v4' or 'v3'")
        self.api_url = api_url.rstrip("/")
        self.api_version = api_version
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
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
        self._session = requests.Session()
        # Retries are driven by `_send` (to honour the time budget), so the adapter never retries.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        auth = (
            {"Authorization": f"Bearer {secret_key}"}
            if api_version == "v4"
            else {"Auth-API-Key": secret_key}
        )
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._session.headers.update(auth)
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"FingerprintClient(api_url={self.api_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self._session.close()

    # --- public API ------------------------------------------------------------------------

    def get_event(self, event_id: str) -> Event:
        """Fetch one event by its event_id (v4) or requestId (v3) and normalise it."""
        if not event_id:
            raise NotFoundError("empty event id", status=404, code="event_not_found")
        quoted = quote(event_id, safe="")
        path = f"/v4/events/{quoted}" if self.api_version == "v4" else f"/events/{quoted}"
        body = self._send("GET", path)
        try:
            return normalise_event(body)
        except EventFormatError as exc:
            raise UnavailableError(f"unexpected event payload: {exc}", status=200) from exc

    def search_events(
        self,
        *,
        limit: int = 100,
        pagination_key: str | None = None,
        start: int | None = None,
        end: int | None = None,
        visitor_id: str | None = None,
        bot: str | None = None,
    ) -> SearchPage:
        """One page of the event search; pass `pagination_key` back to get the next page."""
        params: dict[str, Any] = {"limit": limit}
        if self.api_version == "v4":
            path = "/v4/events"
            params.update(pagination_key=pagination_key, start=start, end=end)
        else:
            path = "/events/search"
            params.update(paginationKey=pagination_key, start=start, end=end)
        params.update(visitor_id=visitor_id, bot=bot)
        body = self._send("GET", path, params={k: v for k, v in params.items() if v is not None})
        events = []
        for raw in body.get("events") or []:
            try:
                events.append(normalise_event(raw))
            except EventFormatError:
                logger.warning("skipping an event of unknown shape in search results")
        key = body.get("pagination_key") or body.get("paginationKey")
        return SearchPage(events=events, pagination_key=key or None)

    def update_event(
        self,
        event_id: str,
        *,
        linked_id: str | None = None,
        tags: dict | None = None,
        suspect: bool | None = None,
    ) -> None:
        """Set linked_id / tags / suspect on an event (v4 PATCH; v3 PUT)."""
        body = {k: v for k, v in {"linked_id": linked_id, "tags": tags, "suspect": suspect}.items()}
        body = {k: v for k, v in body.items() if v is not None}
        quoted = quote(event_id, safe="")
        if self.api_version == "v4":
            self._send("PATCH", f"/v4/events/{quoted}", json=body)
        else:
            v3_body = {"linkedId": linked_id, "tag": tags, "suspect": suspect}
            v3_body = {k: v for k, v in v3_body.items() if v is not None}
            self._send("PUT", f"/events/{quoted}", json=v3_body)

    # --- transport -------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> dict:
        url = self.api_url + path
        deadline = time.monotonic() + self.timeout_s
        retry = self._retry
        while True:
            remaining = deadline - time.monotonic()
            error: Exception | None = None
            response = None
            try:
                response = self._session.request(
                    method,
                    url,
                    timeout=(min(self.connect_timeout_s, remaining), remaining),
                    **kwargs,
                )
            except requests.exceptions.ConnectTimeout as exc:
                error = exc
            except requests.exceptions.Timeout as exc:  # read timeout: not retried
                raise UnavailableError(
                    f"Fingerprint did not answer within {self.timeout_s:g}s", code="timeout"
                ) from exc
            except requests.exceptions.ConnectionError as exc:
                error = exc
            except requests.exceptions.RequestException as exc:
                raise UnavailableError(
                    f"request to Fingerprint failed: {type(exc).__name__}"
                ) from exc

            if response is not None and response.status_code not in RETRY_STATUSES:
                return self._parse(response)
            try:
                retry = retry.increment(
                    method=None,  # allowed_methods=None: every method is retryable here
                    url=path,
                    response=response.raw if response is not None else None,
                    error=ConnectTimeoutError(str(error)) if error is not None else None,
                )
            except MaxRetryError:
                return self._give_up(response, error)
            backoff = retry.get_backoff_time()
            # Retry only if the next attempt still has a useful slice of the budget.
            if time.monotonic() + backoff + 0.05 >= deadline:
                return self._give_up(response, error)
            logger.info(
                "retrying Fingerprint %s %s after %s (attempt %d)",
                method,
                path,
                response.status_code if response is not None else type(error).__name__,
                len(retry.history) + 1,
            )
            if backoff:
                time.sleep(backoff)

    def _give_up(self, response: requests.Response | None, error: Exception | None) -> dict:
        if response is not None:
            return self._parse(response)
        raise UnavailableError(
            f"could not connect to Fingerprint: {type(error).__name__}", code="connection_error"
        ) from error

    @staticmethod
    def _parse(response: requests.Response) -> dict:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= status < 300:
            if status == 204 or (body is None and not response.content):
                return {}
            if not isinstance(body, dict):
                raise UnavailableError("Fingerprint answered with a non-JSON body", status=status)
            return body
        error = body.get("error") if isinstance(body, dict) else None
        code = ""
        message = ""
        if isinstance(error, dict):
            code = str(error.get("code") or "")
            message = str(error.get("message") or "")
        elif isinstance(error, str):  # some v3 errors
            message = error
        text = f"Fingerprint answered {status}" + (f" {code}" if code else "")
        if message:
            text += f": {message[:200]}"
        if status == 404:
            raise NotFoundError(text, status=status, code=code or "not_found")
        if status == 429:
            raise RateLimitedError(text, status=status, code=code or "too_many_requests")
        if status in (401, 403):
            raise AuthError(text, status=status, code=code)
        if status >= 500:
            raise UnavailableError(text, status=status, code=code)
        if status == 409:  # state_not_ready: try again later
            raise UnavailableError(text, status=status, code=code)
        if 400 <= status < 500:
            raise RequestError(text, status=status, code=code)
        raise FingerprintError(text, status=status, code=code)
