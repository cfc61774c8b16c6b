"""Server API v4: get, search and update events, erase a visitor (Bearer secret key)."""

from __future__ import annotations

import json
from functools import partial

from .. import factory
from ..routing import Request, Response, Router, error, json_response
from ..state import SandboxState
from .common import BadRequestError, event_not_found, json_body, search_filter, search_page

PATCH_MAX_AGE_MS = 30 * 86_400_000


def register(r: Router, app: SandboxState) -> None:
    r.add("GET", "/v4/events", partial(search, app), "v4_search", target="events")
    r.add("GET", "/v4/events/{event_id}", partial(get, app), "v4_get_event", target="events")
    r.add("PATCH", "/v4/events/{event_id}", partial(patch, app), "v4_patch_event", target="events")
    delete = partial(delete_visitor, app)
    r.add("DELETE", "/v4/visitors/{visitor_id}", delete, "v4_delete_visitor", target="events")


def auth(app: SandboxState, req: Request) -> Response | None:
    token = app.bearer(req)
    if token is None:
        return error(403, "secret_api_key_required", "secret API key in header is missing")
    if not app.known_secret(token):
        return error(403, "secret_api_key_not_found", "no subscription found for the key")
    return None


def get(app: SandboxState, req: Request) -> Response:
    if (denied := auth(app, req)) is not None:
        return denied
    text = app.store.event_json(req.params["event_id"])
    if text is None:
        return event_not_found()
    return Response(200, text.encode())


def search(app: SandboxState, req: Request) -> Response:
    if (denied := auth(app, req)) is not None:
        return denied
    texts, key = search_page(app, *search_filter(req, "pagination_key"))
    # Stored JSON is spliced in as-is: no decode/encode per event.
    body = '{"events":[' + ",".join(texts) + "]"
    if key:
        body += f',"pagination_key":"{key}"'
    return Response(200, (body + "}").encode())


def patch(app: SandboxState, req: Request) -> Response:
    if (denied := auth(app, req)) is not None:
        return denied
    body = json_body(req)
    if not isinstance(body, dict) or not body:
        raise BadRequestError("body must be a non-empty JSON object")
    unknown = set(body) - {"linked_id", "tags", "suspect"}
    if unknown:
        raise BadRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
    if "linked_id" in body and not isinstance(body["linked_id"], str):
        raise BadRequestError("linked_id must be a string")
    if "tags" in body and not isinstance(body["tags"], dict):
        raise BadRequestError("tags must be an object")
    if "suspect" in body and not isinstance(body["suspect"], bool):
        raise BadRequestError("suspect must be a boolean")
    text = app.store.event_json(req.params["event_id"])
    if text is None:
        return event_not_found()
    event = json.loads(text)
    if event["timestamp"] < factory.now_ms() - PATCH_MAX_AGE_MS:
        raise BadRequestError("events older than a month cannot be updated")
    if "linked_id" in body:
        event["linked_id"] = body["linked_id"]
    if "tags" in body:
        event["tags"] = body["tags"]
    app.store.update_event(event, body.get("suspect"))
    if "suspect" in body:
        app.store.feedback_add(
            event["event_id"], body["suspect"], api="v4", received_at=factory.now_ms()
        )
    return json_response(200, {})


def delete_visitor(app: SandboxState, req: Request) -> Response:
    """Erase a visitor's events (an Enterprise feature: `visitor_delete: false` in the faults
    turns it off, as on a workspace without it)."""
    if (denied := auth(app, req)) is not None:
        return denied
    if app.store.get_setting("visitor_delete") == "off":
        return error(403, "feature_not_enabled", "visitor deletion is not enabled")
    if not app.store.delete_visitor(req.params["visitor_id"]):
        return error(404, "visitor_not_found", "visitor id not found")
    return json_response(200, {})
