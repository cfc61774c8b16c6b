"""Server API v3: get, search and update events in the v3 shape (Auth-API-Key header)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from .. import factory
from ..routing import Request, Response, Router, error, json_response
from ..state import SandboxState
from ..v3 import to_v3
from .common import BadRequestError, event_not_found, json_body, search_filter, search_page
from .v4 import PATCH_MAX_AGE_MS


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
    r.add(
        "PUT",
        "/events/{request_id}",
        partial(update, app),
        "v3_update_event",
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


def update(app: SandboxState, req: Request) -> Response:
    """The legacy equivalent of v4's PATCH: `{"linkedId"?, "tag"?, "suspect"?}`."""
    if (denied := auth(app, req)) is not None:
        return denied
    body = json_body(req)
    if not isinstance(body, dict) or not body:
        raise BadRequestError("body must be a non-empty JSON object")
    unknown = set(body) - {"linkedId", "tag", "suspect"}
    if unknown:
        raise BadRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
    if "linkedId" in body and not isinstance(body["linkedId"], str):
        raise BadRequestError("linkedId must be a string")
    if "tag" in body and not isinstance(body["tag"], dict):
        raise BadRequestError("tag must be an object")
    if "suspect" in body and not isinstance(body["suspect"], bool):
        raise BadRequestError("suspect must be a boolean")
    text = app.store.event_json(req.params["request_id"])
    if text is None:
        return event_not_found("RequestNotFound", "request id not found")
    event = json.loads(text)
    if event["timestamp"] < factory.now_ms() - PATCH_MAX_AGE_MS:
        raise BadRequestError("events older than a month cannot be updated")
    if "linkedId" in body:
        event["linked_id"] = body["linkedId"]
    if "tag" in body:
        event["tags"] = body["tag"]
    app.store.update_event(event, body.get("suspect"))
    if "suspect" in body:
        app.store.feedback_add(
            event["event_id"], body["suspect"], api="v3", received_at=factory.now_ms()
        )
    return json_response(200, {})
