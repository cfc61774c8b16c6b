"""The JS agent stand-in: the script, and the identify call it makes from the browser."""

from __future__ import annotations

import hmac
import json
from functools import partial
from pathlib import Path
from typing import Any

from .. import factory, sealed
from ..profiles import PROFILES, stable_id
from ..routing import Request, Response, Router, error, json_response
from ..state import SandboxState

AGENT_JS = Path(__file__).resolve().parent.parent / "static" / "agent.js"
# agent traits that make up the visitor id (with the device id kept in localStorage)
STABLE_TRAITS = (
    "userAgent",
    "webdriver",
    "languages",
    "platform",
    "hardwareConcurrency",
    "screen",
    "timezone",
)


def register(r: Router, app: SandboxState) -> None:
    r.add("GET", "/agent.js", agent_js, "agent_js", cors=True)
    r.add("POST", "/_sandbox/identify", partial(identify, app), "identify", cors=True)


def agent_js(req: Request) -> Response:
    return Response(
        200,
        AGENT_JS.read_bytes(),
        "text/javascript; charset=utf-8",
        [("Cache-Control", "no-cache")],
    )


def identify(app: SandboxState, req: Request) -> Response:
    try:
        body = req.json()
    except ValueError:
        return error(400, "request_cannot_be_parsed", "body is not JSON")
    if not isinstance(body, dict):
        return error(400, "request_cannot_be_parsed", "body must be a JSON object")
    if not hmac.compare_digest(str(body.get("apiKey", "")), app.public_key):
        return error(403, "public_api_key_not_found", "unknown public API key")
    device_id = body.get("deviceId")
    traits = body.get("traits") or {}
    if not isinstance(device_id, str) or not device_id or not isinstance(traits, dict):
        return error(400, "request_cannot_be_parsed", "deviceId and traits are required")
    stable = json.dumps({name: traits.get(name) for name in STABLE_TRAITS}, sort_keys=True)
    visitor_id = stable_id(device_id + "|" + stable)
    ua = str(traits.get("userAgent") or req.header("user-agent") or "")
    headless = "HeadlessChrome" in ua
    is_bot = headless or traits.get("webdriver") is True
    profile = "bad_bot" if is_bot else "human"
    forced = body.get("profile")  # sandbox-only: lets automated browsers act as humans
    if forced is not None:
        if forced not in PROFILES or PROFILES[forced].platform != "js":
            return error(400, "request_cannot_be_parsed", f"not a browser profile: {forced}")
        profile = forced
    ip = req.client_ip
    forwarded = req.header("x-forwarded-for")
    if app.trust_xff and forwarded:
        ip = forwarded.split(",")[0].strip()
    tags = body.get("tag")
    event = factory.create_event(
        app.store,
        profile,
        visitor_id=visitor_id,
        ip=ip,
        url=str(body.get("url") or ""),
        user_agent=ua or None,
        bot_type=(
            ("headless_chrome" if headless else "automation")
            if is_bot and profile == "bad_bot"
            else None
        ),
        linked_id=body.get("linkedId") if isinstance(body.get("linkedId"), str) else None,
        tags=tags if isinstance(tags, dict) else None,
    )
    result: dict[str, Any] = {
        "event_id": event["event_id"],
        "visitor_id": visitor_id,
        "requestId": event["event_id"],
        "visitorId": visitor_id,
        "visitor_found": event["identification"]["visitor_found"],
        "confidence": event["identification"]["confidence"],
    }
    if app.sealed_key:
        result["sealed_result"] = sealed.seal(event, app.sealed_key)
    return json_response(200, result)
