"""The control API (`/_sandbox/...`): create events, inject faults, seed DRN, read the suspect
feedback received, reset, stats."""

from __future__ import annotations

from functools import partial
from typing import Any

from .. import factory
from ..profiles import PROFILES
from ..routing import Request, Response, Router, json_response
from ..state import SandboxState
from ..store import Fault
from .common import BadRequestError, event_not_found, json_body, parse_time

NUMBER = (int, float)
# event fields -> accepted JSON types (null means "not given")
CREATE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "profile": str,
    "visitor_id": str,
    "ip": str,
    "url": str,
    "user_agent": str,
    "bot_type": str,
    "timestamp_ms": int,
    "age_s": NUMBER,
    "replayed": bool,
    "linked_id": str,
    "tags": dict,
    "overrides": dict,
}
BULK_FIELDS = {
    **{k: v for k, v in CREATE_FIELDS.items() if k != "timestamp_ms"},
    "count": int,
    "visitors": int,
    "spread_s": NUMBER,
}


def register(r: Router, app: SandboxState) -> None:
    for method, path, handler in (
        ("POST", "/_sandbox/events", create),
        ("POST", "/_sandbox/events/bulk", bulk),
        ("GET", "/_sandbox/events/{event_id}", get),
        ("GET", "/_sandbox/faults", faults),
        ("POST", "/_sandbox/faults", faults_set),
        ("DELETE", "/_sandbox/faults", faults_clear),
        ("POST", "/_sandbox/drn/{visitor_id}", drn_seed),
        ("GET", "/_sandbox/feedback", feedback),
        ("POST", "/_sandbox/reset", reset),
    ):
        r.add(method, path, partial(handler, app), "control")
    r.add("GET", "/_sandbox/stats", partial(stats, app), "stats")


def _body(req: Request, fields: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The JSON object body, type-checked against `fields`; nulls are dropped."""
    body = json_body(req)
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    unknown = set(body) - set(fields)
    if unknown:
        raise BadRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
    body = {name: value for name, value in body.items() if value is not None}
    for name, value in body.items():
        expected = fields[name]
        # bool is an int in Python, never a number in these fields
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise BadRequestError(f"{name} has the wrong type")
    profile = body.get("profile", "human")
    if profile not in PROFILES:
        raise BadRequestError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
    return body


def create(app: SandboxState, req: Request) -> Response:
    body = _body(req, CREATE_FIELDS)
    return json_response(201, factory.create_event(app.store, **body))


def bulk(app: SandboxState, req: Request) -> Response:
    body = _body(req, BULK_FIELDS)
    count = body.pop("count", None)
    if count is None or not 0 <= count <= 1_000_000:
        raise BadRequestError("count must be an integer in 0..1000000")
    ids = factory.bulk_events(app.store, count, **body)
    return json_response(201, {"event_ids": ids})


def get(app: SandboxState, req: Request) -> Response:
    if req.arg("meta"):
        meta = app.store.event_meta(req.params["event_id"])
        if meta is None:
            return event_not_found()
        return json_response(200, meta)
    text = app.store.event_json(req.params["event_id"])
    if text is None:
        return event_not_found()
    return Response(200, text.encode())


def faults(app: SandboxState, req: Request) -> Response:
    return json_response(
        200,
        {
            "faults": [fault.__dict__ for fault in app.store.faults()],
            "drn_rps": app.drn_rps,
            "drn_burst": app.drn_burst,
            "visitor_delete": app.store.get_setting("visitor_delete") != "off",
        },
    )


def faults_set(app: SandboxState, req: Request) -> Response:
    body = json_body(req)
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    allowed = {"target", "latency_ms", "status", "count", "drn_rps", "drn_burst", "visitor_delete"}
    if unknown := set(body) - allowed:
        raise BadRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
    target = body.get("target", "all")
    if target not in ("events", "drn", "all"):
        raise BadRequestError("target must be events, drn or all")
    for name in ("latency_ms", "status", "count", "drn_burst"):
        if body.get(name) is not None and not isinstance(body[name], int):
            raise BadRequestError(f"{name} must be an integer")
    if body.get("drn_rps") is not None:
        if not isinstance(body["drn_rps"], int | float) or body["drn_rps"] <= 0:
            raise BadRequestError("drn_rps must be a positive number")
        app.store.set_setting("drn_rps", str(float(body["drn_rps"])))
    if body.get("drn_burst") is not None:
        app.store.set_setting("drn_burst", str(max(1, body["drn_burst"])))
    if body.get("drn_rps") is not None or body.get("drn_burst") is not None:
        app.load_rate()
        app.buckets.reset()
    if body.get("visitor_delete") is not None:
        if not isinstance(body["visitor_delete"], bool):
            raise BadRequestError("visitor_delete must be a boolean")
        app.store.set_setting("visitor_delete", None if body["visitor_delete"] else "off")
    status = body.get("status")
    if status is not None and not 400 <= status <= 599:
        raise BadRequestError("status must be an HTTP error status")
    if body.get("latency_ms") or status:
        app.store.add_fault(
            Fault(
                target=target,
                latency_ms=body.get("latency_ms") or 0,
                status=status,
                remaining=body.get("count"),
            )
        )
    return faults(app, req)


def faults_clear(app: SandboxState, req: Request) -> Response:
    app.store.clear_faults()
    app.store.set_setting("drn_rps", None)
    app.store.set_setting("drn_burst", None)
    app.store.set_setting("visitor_delete", None)
    app.load_rate()
    app.buckets.reset()
    return faults(app, req)


def drn_seed(app: SandboxState, req: Request) -> Response:
    body = json_body(req)
    allowed = {"regional_activity", "suspect_score", "first_seen_at", "last_seen_at"}
    if not isinstance(body, dict) or set(body) - allowed:
        raise BadRequestError(f"body must be an object with fields among {sorted(allowed)}")
    for name in ("first_seen_at", "last_seen_at"):
        if body.get(name) is not None:
            parse_time(str(body[name]))  # validate only; DRN returns the text as seeded
    seed = app.store.drn_seed(req.params["visitor_id"]) or {}
    seed.update(body)
    app.store.set_drn_seed(req.params["visitor_id"], seed)
    return json_response(201, seed)


def feedback(app: SandboxState, req: Request) -> Response:
    """Every suspect flag set through v4 PATCH or v3 PUT, oldest first (`?event_id=` for one)."""
    return json_response(200, {"feedback": app.store.feedback(req.arg("event_id"))})


def reset(app: SandboxState, req: Request) -> Response:
    app.store.reset()
    app.load_rate()
    app.buckets.reset()
    app.stats_clear()
    return json_response(200, {})


def stats(app: SandboxState, req: Request) -> Response:
    return json_response(200, app.stats())
