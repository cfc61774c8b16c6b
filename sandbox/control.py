"""Python client for the sandbox control API (tests, demo traffic, benchmarks)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import requests


class SandboxControlError(RuntimeError):
    pass


class SandboxControl:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()  # pooled keep-alive connections

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}{path}", json=body, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise SandboxControlError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def create_event(self, profile: str = "human", **fields: Any) -> dict[str, Any]:
        """Create one event; fields: visitor_id, ip, url, user_agent, bot_type, timestamp_ms,
        age_s, replayed, linked_id, tags, overrides. Returns the full v4 event."""
        return self._call("POST", "/_sandbox/events", {"profile": profile, **fields})

    def bulk_events(self, count: int, profile: str = "human", **fields: Any) -> list[str]:
        """Insert `count` events fast; extra fields: visitors, spread_s, age_s, visitor_id..."""
        body = {"count": count, "profile": profile, **fields}
        return self._call("POST", "/_sandbox/events/bulk", body)["event_ids"]

    def get_event(self, event_id: str) -> dict[str, Any]:
        return self._call("GET", f"/_sandbox/events/{event_id}")

    def event_meta(self, event_id: str) -> dict[str, Any]:
        """{"event": ..., "suspect": bool | None} (suspect as last set by PATCH)."""
        return self._call("GET", f"/_sandbox/events/{event_id}?meta=1")

    def feedback(self, event_id: str | None = None) -> list[dict[str, Any]]:
        """The suspect flags the sandbox was told (v4 PATCH, v3 PUT), oldest first:
        [{"event_id", "suspect": bool, "api": "v4" | "v3", "received_at": epoch ms}]."""
        query = f"?{urlencode({'event_id': event_id})}" if event_id is not None else ""
        return self._call("GET", f"/_sandbox/feedback{query}")["feedback"]

    def set_faults(self, **kw: Any) -> dict[str, Any]:
        """kw: target ("events" | "drn" | "all"), latency_ms, status, count, drn_rps, drn_burst,
        visitor_delete (False: DELETE /v4/visitors answers 403 feature_not_enabled)."""
        return self._call("POST", "/_sandbox/faults", kw)

    def faults(self) -> dict[str, Any]:
        """{"faults": [...active rules...], "drn_rps": float, "drn_burst": int}."""
        return self._call("GET", "/_sandbox/faults")

    def clear_faults(self) -> dict[str, Any]:
        return self._call("DELETE", "/_sandbox/faults")

    def seed_drn(self, visitor_id: str, **kw: Any) -> dict[str, Any]:
        """kw: regional_activity, suspect_score, first_seen_at, last_seen_at."""
        return self._call("POST", f"/_sandbox/drn/{visitor_id}", kw)

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/stats")

    def close(self) -> None:
        self.session.close()
