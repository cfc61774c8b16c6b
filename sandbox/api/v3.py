"""Server API v3: get and search events in the v3 shape (Auth-API-Key header)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ..routing import Request, Response, Router, error, json_response
from ..state import SandboxState
from ..v3 import to_v3
from .common import BadRequestError, event_not_found, search_filter, search_page


def register(r: Router, app: SandboxState) -> None:
    # search first: "search" would match {request_id}
    r.add("GET", "/events/search", partial(search, app), "v3_search", target="events", flavour="v3")
    r.add(
        "GET",
        "/events/{request_id}",
        partial(get, app),
        "v3_get_event",
        target="events",
        flavour="v3",
    )


def auth(app: SandboxState, req: Request) -> Response | None:
    token = req.header("auth-api-key")
    if not token:
        return error(403, "TokenRequired", "secret API key in header is missing")
    if not app.known_secret(token):
        return error(403, "TokenNotFound", "no subscription found for the key")
    return None


def get(app: SandboxState, req: Request) -> Response:
    if (denied := auth(app, req)) is not None:
        return denied
    text = app.store.event_json(req.params["request_id"])
    if text is None:
        return event_not_found("RequestNotFound", "request id not found")
    return json_response(200, to_v3(json.loads(text)))


def search(app: SandboxState, req: Request) -> Response:
    if (denied := auth(app, req)) is not None:
        return denied
    if req.arg("limit") is None:
        raise BadRequestError("limit is required")
    texts, key = search_page(app, *search_filter(req, "paginationKey"))
    payload: dict[str, Any] = {"events": [to_v3(json.loads(text)) for text in texts]}
    if key:
        payload["paginationKey"] = key
    return json_response(200, payload)
