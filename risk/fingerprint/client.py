"""Fingerprint Server API client: v4 by default, v3 for legacy workspaces.

Transport (pooled session, time budget, retries with jittered backoff) is shared with the DRN
client: see `transport.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from risk.fingerprint.errors import NotFoundError, UnavailableError
from risk.fingerprint.events import Event, EventFormatError, normalise_event
from risk.fingerprint.transport import BudgetedTransport

logger = logging.getLogger(__name__)


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
        auth = (
            {"Authorization": f"Bearer {secret_key}"}
            if api_version == "v4"
            else {"Auth-API-Key": secret_key}
        )
        self._transport = BudgetedTransport(
            base_url=self.api_url,
            headers=auth,
            service="Fingerprint",
            connect_timeout_s=min(connect_timeout_s, timeout_s),
            max_retries=max_retries,
            backoff_s=backoff_s,
            pool_size=pool_size,
        )

    def __repr__(self) -> str:  # never show the key
        return f"FingerprintClient(api_url={self.api_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self._transport.close()

    # --- public API ------------------------------------------------------------------------

    def get_event(self, event_id: str, *, retry_rate_limited: bool = True) -> Event:
        """Fetch one event by its event_id (v4) or requestId (v3) and normalise it.

        `retry_rate_limited=False`: a 429 raises RateLimitedError at once (no retry)."""
        if not event_id:
            raise NotFoundError("empty event id", status=404, code="event_not_found")
        quoted = quote(event_id, safe="")
        path = f"/v4/events/{quoted}" if self.api_version == "v4" else f"/events/{quoted}"
        body = self._send("GET", path, retry_rate_limited=retry_rate_limited)
        try:
            event = normalise_event(body)
        except EventFormatError as exc:
            raise UnavailableError(f"unexpected event payload: {exc}", status=200) from exc
        if event.event_id != event_id:
            # Never store (and claim) an event under an id it does not have.
            raise NotFoundError(
                "Fingerprint answered with a different event", status=200, code="event_mismatch"
            )
        return event

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
        body = {"linked_id": linked_id, "tags": tags, "suspect": suspect}
        body = {k: v for k, v in body.items() if v is not None}
        quoted = quote(event_id, safe="")
        if self.api_version == "v4":
            self._send("PATCH", f"/v4/events/{quoted}", json=body)
        else:
            v3_body = {"linkedId": linked_id, "tag": tags, "suspect": suspect}
            v3_body = {k: v for k, v in v3_body.items() if v is not None}
            self._send("PUT", f"/events/{quoted}", json=v3_body)

    def delete_visitor(self, visitor_id: str) -> None:
        """Ask Fingerprint to erase everything it holds on a visitor (an Enterprise feature).

        Raises NotFoundError (unknown visitor), AuthError with code `feature_not_enabled` when
        the workspace lacks the feature, and the other FingerprintErrors as usual.
        """
        if not visitor_id:
            raise NotFoundError("empty visitor id", status=404, code="visitor_not_found")
        quoted = quote(visitor_id, safe="")
        path = f"/v4/visitors/{quoted}" if self.api_version == "v4" else f"/visitors/{quoted}"
        self._send("DELETE", path)

    def _send(self, method: str, path: str, **kwargs: Any) -> dict:
        return self._transport.request(method, path, budget_s=self.timeout_s, **kwargs)
