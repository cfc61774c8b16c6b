"""Device Reputation Network: one visitor's reputation, rate limited per key."""

from __future__ import annotations

from functools import partial

from .. import drn, factory
from ..routing import Request, Response, Router, error, json_response
from ..state import SandboxState

API_VERSION = "2024-09-01"


def register(r: Router, app: SandboxState) -> None:
    r.add("GET", "/drn/{visitor_id}", partial(get, app), "drn", target="drn", flavour="drn")


def get(app: SandboxState, req: Request) -> Response:
    token = app.bearer(req)
    if token is None or not app.known_secret(token):
        return error(401, "secret_key_not_found", "secret key is missing or unknown")
    version = req.header("x-api-version")
    if version != API_VERSION:
        return error(400, "invalid_api_version", f"X-API-Version must be {API_VERSION}")
    if not app.buckets.allow(token, app.drn_rps, app.drn_burst):
        return error(429, "too_many_requests", "rate limit exceeded")
    signals = [s.strip() for s in (req.arg("signals") or "").split(",") if s.strip()]
    if not signals or any(s not in drn.SIGNALS for s in signals):
        return error(
            400,
            "invalid_signals_parameter",
            f"signals must be a comma-separated subset of {', '.join(drn.SIGNALS)}",
        )
    visitor_id = req.params["visitor_id"]
    body = drn.drn_body(
        app.store.visitor_events(visitor_id),
        app.store.drn_seed(visitor_id),
        signals,
        factory.now_ms(),
    )
    if body is None:
        return error(404, "http.not_found", "visitor not found")
    return json_response(200, body)
