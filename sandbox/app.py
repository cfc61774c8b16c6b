"""The sandbox's endpoints: Server API v4 and v3, DRN, the JS agent and the control API."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from . import drn, factory, sealed
from .profiles import PROFILES, stable_id
from .routing import (
    Request,
    Response,
    Router,
    error,
    fault_error,
    json_response,
)
from .store import Fault, SearchFilter, Store
from .v3 import to_v3

AGENT_JS = Path(__file__).with_name("static") / "agent.js"
DRN_API_VERSION = "2024-09-01"
DEFAULT_WINDOW_MS = 7 * 86_400_000
PATCH_MAX_AGE_MS = 30 * 86_400_000
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "600"),
]
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
NUMBER = (int, float)
# control API event fields -> accepted JSON types (null means "not given")
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


class BadRequestError(ValueError):
    """A parameter or body the API would refuse with 400."""


def parse_time(value: str) -> int:
    """Epoch ms or RFC 3339 -> epoch ms."""
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequestError(f"invalid time: {value!r}") from exc
    if moment.tzinfo is None:
        raise BadRequestError(f"time needs a timezone: {value!r}")
    return int(moment.timestamp() * 1000)


def parse_bool(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadRequestError(f"{name} must be true or false")


def encode_cursor(timestamp: int, event_id: str) -> str:
    raw = json.dumps([timestamp, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(key: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        timestamp, event_id = json.loads(raw)
        return int(timestamp), str(event_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadRequestError("invalid pagination key") from exc


class SandboxApp:
    def __init__(
        self,
        store: Store,
        *,
        secret_keys: tuple[str, ...] = ("sandbox-secret-key",),
        public_key: str = "sandbox-public-key",
        trust_xff: bool = False,
        sealed_key: bytes | str | None = None,
    ) -> None:
        self.store = store
        self.secret_keys = tuple(secret_keys)
        self.public_key = public_key
        self.trust_xff = trust_xff
        self.sealed_key = sealed.decode_key(sealed_key) if sealed_key else None
        self.buckets = drn.TokenBucket()
        self._load_rate()
        self._stats_lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults_applied: Counter[str] = Counter()
        self.router = self._routes()

    def _routes(self) -> Router:
        r = Router()
        # Server API v4
        r.add("GET", "/v4/events", self.v4_search, "v4_search", target="events")
        r.add("GET", "/v4/events/{event_id}", self.v4_get, "v4_get_event", target="events")
        r.add("PATCH", "/v4/events/{event_id}", self.v4_patch, "v4_patch_event", target="events")
        v4_delete, name = self.v4_delete_visitor, "v4_delete_visitor"
        r.add("DELETE", "/v4/visitors/{visitor_id}", v4_delete, name, target="events")
        # Server API v3 (search first: "search" would match {request_id})
        r.add("GET", "/events/search", self.v3_search, "v3_search", target="events", flavour="v3")
        v3_get = self.v3_get
        r.add("GET", "/events/{request_id}", v3_get, "v3_get_event", target="events", flavour="v3")
        # DRN
        r.add("GET", "/drn/{visitor_id}", self.drn_get, "drn", target="drn", flavour="drn")
        # JS agent stand-in
        r.add("GET", "/agent.js", self.agent_js, "agent_js", cors=True)
        r.add("POST", "/_sandbox/identify", self.identify, "identify", cors=True)
        # control API
        r.add("POST", "/_sandbox/events", self.ctl_create, "control")
        r.add("POST", "/_sandbox/events/bulk", self.ctl_bulk, "control")
        r.add("GET", "/_sandbox/events/{event_id}", self.ctl_get, "control")
        r.add("GET", "/_sandbox/faults", self.ctl_faults, "control")
        r.add("POST", "/_sandbox/faults", self.ctl_set_faults, "control")
        r.add("DELETE", "/_sandbox/faults", self.ctl_clear_faults, "control")
        r.add("POST", "/_sandbox/drn/{visitor_id}", self.ctl_seed_drn, "control")
        r.add("POST", "/_sandbox/reset", self.ctl_reset, "control")
        r.add("GET", "/_sandbox/stats", self.ctl_stats, "stats")
        r.add("GET", "/healthz", lambda req: json_response(200, {"status": "ok"}), "healthz")
        return r

    # --- dispatch ------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.method == "OPTIONS":  # CORS preflight for the agent endpoints
            return Response(204, b"", "text/plain", list(CORS_HEADERS))
        route, params, exists = self.router.match(req.method, req.path)
        if route is None:
            name = "unknown"
            response = (
                error(405, "method_not_allowed", f"{req.method} is not allowed here")
                if exists
                else error(404, "not_found", f"no route for {req.path}")
            )
        else:
            name = route.name
            req.params = params
            response = self._run(route.target, route.flavour, route.handler, req, name)
            if route.cors:
                response.headers.extend(CORS_HEADERS)
        with self._stats_lock:
            self._requests[name] += 1
            self._statuses[name][str(response.status)] += 1
        return response

    def _run(
        self, target: str | None, flavour: str, handler: Any, req: Request, name: str
    ) -> Response:
        if target is not None:
            fault = self.store.take_fault(target)
            if fault is not None:
                with self._stats_lock:
                    self._faults_applied[name] += 1
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)
                if fault.status:
                    return fault_error(fault.status, flavour)
        try:
            return handler(req)
        except BadRequestError as exc:
            if flavour == "v3":
                return error(400, "RequestCannotBeParsed", str(exc))
            return error(400, "request_cannot_be_parsed", str(exc))

    # --- auth ----------------------------------------------------------------------------

    def _known_secret(self, key: str) -> bool:
        return any(hmac.compare_digest(key, known) for known in self.secret_keys)

    def _bearer(self, req: Request) -> str | None:
        value = req.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _v4_auth(self, req: Request) -> Response | None:
        token = self._bearer(req)
        if token is None:
            return error(403, "secret_api_key_required", "secret API key in header is missing")
        if not self._known_secret(token):
            return error(403, "secret_api_key_not_found", "no subscription found for the key")
        return None

    def _v3_auth(self, req: Request) -> Response | None:
        token = req.header("auth-api-key")
        if not token:
            return error(403, "TokenRequired", "secret API key in header is missing")
        if not self._known_secret(token):
            return error(403, "TokenNotFound", "no subscription found for the key")
        return None

    # --- Server API v4 -------------------------------------------------------------------

    def v4_get(self, req: Request) -> Response:
        if (denied := self._v4_auth(req)) is not None:
            return denied
        text = self.store.event_json(req.params["event_id"])
        if text is None:
            return error(404, "event_not_found", "event id not found")
        return Response(200, text.encode())

    def _filter(self, req: Request, cursor_param: str) -> tuple[SearchFilter, int]:
        raw_limit = req.arg("limit")
        try:
            limit = int(raw_limit) if raw_limit is not None else 10
        except ValueError as exc:
            raise BadRequestError("limit must be an integer") from exc
        if not 1 <= limit <= 100:
            raise BadRequestError("limit must be between 1 and 100")
        end = parse_time(req.arg("end")) if req.arg("end") else factory.now_ms()
        start = parse_time(req.arg("start")) if req.arg("start") else end - DEFAULT_WINDOW_MS
        if start > end:
            raise BadRequestError("start must not be after end")
        bot = req.arg("bot")
        if bot is not None and bot not in ("all", "good", "bad", "none"):
            raise BadRequestError("bot must be one of all, good, bad, none")
        raw_min = req.arg("min_suspect_score")
        try:
            min_score = int(float(raw_min)) if raw_min is not None else None
        except ValueError as exc:
            raise BadRequestError("min_suspect_score must be a number") from exc
        key = req.arg(cursor_param)
        flt = SearchFilter(
            start=start,
            end=end,
            visitor_id=req.arg("visitor_id"),
            bot=bot,
            suspect=parse_bool(req.arg("suspect"), "suspect"),
            vpn=parse_bool(req.arg("vpn"), "vpn"),
            min_suspect_score=min_score,
            linked_id=req.arg("linked_id"),
            ip_address=req.arg("ip_address"),
            before=decode_cursor(key) if key else None,
        )
        return flt, limit

    def _page(self, flt: SearchFilter, limit: int) -> tuple[list[str], str | None]:
        rows = self.store.search(flt, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        key = encode_cursor(rows[-1][0], rows[-1][1]) if more else None
        return [row[2] for row in rows], key

    def v4_search(self, req: Request) -> Response:
        if (denied := self._v4_auth(req)) is not None:
            return denied
        texts, key = self._page(*self._filter(req, "pagination_key"))
        # Stored JSON is spliced in as-is: no decode/encode per event.
        body = '{"events":[' + ",".join(texts) + "]"
        if key:
            body += f',"pagination_key":"{key}"'
        return Response(200, (body + "}").encode())

    def v4_patch(self, req: Request) -> Response:
        if (denied := self._v4_auth(req)) is not None:
            return denied
        try:
            body = req.json()
        except ValueError as exc:
            raise BadRequestError("body is not JSON") from exc
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
        text = self.store.event_json(req.params["event_id"])
        if text is None:
            return error(404, "event_not_found", "event id not found")
        event = json.loads(text)
        if event["timestamp"] < factory.now_ms() - PATCH_MAX_AGE_MS:
            raise BadRequestError("events older than a month cannot be updated")
        if "linked_id" in body:
            event["linked_id"] = body["linked_id"]
        if "tags" in body:
            event["tags"] = body["tags"]
        self.store.update_event(event, body.get("suspect"))
        return json_response(200, {})

    def v4_delete_visitor(self, req: Request) -> Response:
        """Erase a visitor's events (an Enterprise feature: `visitor_delete: false` in the
        faults turns it off, as on a workspace without it)."""
        if (denied := self._v4_auth(req)) is not None:
            return denied
        if self.store.get_setting("visitor_delete") == "off":
            return error(403, "feature_not_enabled", "visitor deletion is not enabled")
        if not self.store.delete_visitor(req.params["visitor_id"]):
            return error(404, "visitor_not_found", "visitor id not found")
        return json_response(200, {})

    # --- Server API v3 -------------------------------------------------------------------

    def v3_get(self, req: Request) -> Response:
        if (denied := self._v3_auth(req)) is not None:
            return denied
        text = self.store.event_json(req.params["request_id"])
        if text is None:
            return error(404, "RequestNotFound", "request id not found")
        return json_response(200, to_v3(json.loads(text)))

    def v3_search(self, req: Request) -> Response:
        if (denied := self._v3_auth(req)) is not None:
            return denied
        if req.arg("limit") is None:
            raise BadRequestError("limit is required")
        texts, key = self._page(*self._filter(req, "paginationKey"))
        payload: dict[str, Any] = {"events": [to_v3(json.loads(text)) for text in texts]}
        if key:
            payload["paginationKey"] = key
        return json_response(200, payload)

    # --- DRN -----------------------------------------------------------------------------

    def _load_rate(self) -> None:
        self.drn_rps = float(self.store.get_setting("drn_rps") or drn.DEFAULT_RPS)
        self.drn_burst = int(self.store.get_setting("drn_burst") or drn.DEFAULT_BURST)

    def drn_get(self, req: Request) -> Response:
        token = self._bearer(req)
        if token is None or not self._known_secret(token):
            return error(401, "secret_key_not_found", "secret key is missing or unknown")
        version = req.header("x-api-version")
        if version != DRN_API_VERSION:
            return error(400, "invalid_api_version", f"X-API-Version must be {DRN_API_VERSION}")
        if not self.buckets.allow(token, self.drn_rps, self.drn_burst):
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
            self.store.visitor_events(visitor_id),
            self.store.drn_seed(visitor_id),
            signals,
            factory.now_ms(),
        )
        if body is None:
            return error(404, "http.not_found", "visitor not found")
        return json_response(200, body)

    # --- JS agent stand-in ---------------------------------------------------------------

    def agent_js(self, req: Request) -> Response:
        return Response(
            200,
            AGENT_JS.read_bytes(),
            "text/javascript; charset=utf-8",
            [("Cache-Control", "no-cache")],
        )

    def identify(self, req: Request) -> Response:
        try:
            body = req.json()
        except ValueError:
            return error(400, "request_cannot_be_parsed", "body is not JSON")
        if not isinstance(body, dict):
            return error(400, "request_cannot_be_parsed", "body must be a JSON object")
        if not hmac.compare_digest(str(body.get("apiKey", "")), self.public_key):
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
            if forced not in PROFILES or PROFILES[forced] != "js":
                return error(400, "request_cannot_be_parsed", f"not a browser profile: {forced}")
            profile = forced
        ip = req.client_ip
        forwarded = req.header("x-forwarded-for")
        if self.trust_xff and forwarded:
            ip = forwarded.split(",")[0].strip()
        tags = body.get("tag")
        event = factory.create_event(
            self.store,
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
        if self.sealed_key:
            result["sealed_result"] = sealed.seal(event, self.sealed_key)
        return json_response(200, result)

    # --- control API ---------------------------------------------------------------------

    def _body(self, req: Request, fields: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
        """The JSON object body, type-checked against `fields`; nulls are dropped."""
        try:
            body = req.json()
        except ValueError as exc:
            raise BadRequestError("body is not JSON") from exc
        if not isinstance(body, dict):
            raise BadRequestError("body must be a JSON object")
        unknown = set(body) - set(fields)
        if unknown:
            raise BadRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
        body = {name: value for name, value in body.items() if value is not None}
        for name, value in body.items():
            expected = fields[name]
            # bool is an int in Python, never a number in these fields
            if not isinstance(value, expected) or (
                isinstance(value, bool) and expected is not bool
            ):
                raise BadRequestError(f"{name} has the wrong type")
        profile = body.get("profile", "human")
        if profile not in PROFILES:
            raise BadRequestError(f"unknown profile {profile!r}; one of {', '.join(PROFILES)}")
        return body

    def ctl_create(self, req: Request) -> Response:
        body = self._body(req, CREATE_FIELDS)
        return json_response(201, factory.create_event(self.store, **body))

    def ctl_bulk(self, req: Request) -> Response:
        body = self._body(req, BULK_FIELDS)
        count = body.pop("count", None)
        if count is None or not 0 <= count <= 1_000_000:
            raise BadRequestError("count must be an integer in 0..1000000")
        ids = factory.bulk_events(self.store, count, **body)
        return json_response(201, {"event_ids": ids})

    def ctl_get(self, req: Request) -> Response:
        if req.arg("meta"):
            meta = self.store.event_meta(req.params["event_id"])
            if meta is None:
                return error(404, "event_not_found", "event id not found")
            return json_response(200, meta)
        text = self.store.event_json(req.params["event_id"])
        if text is None:
            return error(404, "event_not_found", "event id not found")
        return Response(200, text.encode())

    def ctl_faults(self, req: Request) -> Response:
        return json_response(
            200,
            {
                "faults": [fault.__dict__ for fault in self.store.faults()],
                "drn_rps": self.drn_rps,
                "drn_burst": self.drn_burst,
                "visitor_delete": self.store.get_setting("visitor_delete") != "off",
            },
        )

    def ctl_set_faults(self, req: Request) -> Response:
        try:
            body = req.json()
        except ValueError as exc:
            raise BadRequestError("body is not JSON") from exc
        if not isinstance(body, dict):
            raise BadRequestError("body must be a JSON object")
        allowed = {
            "target",
            "latency_ms",
            "status",
            "count",
            "drn_rps",
            "drn_burst",
            "visitor_delete",
        }
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
            self.store.set_setting("drn_rps", str(float(body["drn_rps"])))
        if body.get("drn_burst") is not None:
            self.store.set_setting("drn_burst", str(max(1, body["drn_burst"])))
        if body.get("drn_rps") is not None or body.get("drn_burst") is not None:
            self._load_rate()
            self.buckets.reset()
        if body.get("visitor_delete") is not None:
            if not isinstance(body["visitor_delete"], bool):
                raise BadRequestError("visitor_delete must be a boolean")
            self.store.set_setting("visitor_delete", None if body["visitor_delete"] else "off")
        status = body.get("status")
        if status is not None and not 400 <= status <= 599:
            raise BadRequestError("status must be an HTTP error status")
        if body.get("latency_ms") or status:
            self.store.add_fault(
                Fault(
                    target=target,
                    latency_ms=body.get("latency_ms") or 0,
                    status=status,
                    remaining=body.get("count"),
                )
            )
        return self.ctl_faults(req)

    def ctl_clear_faults(self, req: Request) -> Response:
        self.store.clear_faults()
        self.store.set_setting("drn_rps", None)
        self.store.set_setting("drn_burst", None)
        self.store.set_setting("visitor_delete", None)
        self._load_rate()
        self.buckets.reset()
        return self.ctl_faults(req)

    def ctl_seed_drn(self, req: Request) -> Response:
        try:
            body = req.json()
        except ValueError as exc:
            raise BadRequestError("body is not JSON") from exc
        allowed = {"regional_activity", "suspect_score", "first_seen_at", "last_seen_at"}
        if not isinstance(body, dict) or set(body) - allowed:
            raise BadRequestError(f"body must be an object with fields among {sorted(allowed)}")
        for name in ("first_seen_at", "last_seen_at"):
            if body.get(name) is not None:
                parse_time(str(body[name]))  # validate only; DRN returns the text as seeded
        seed = self.store.drn_seed(req.params["visitor_id"]) or {}
        seed.update(body)
        self.store.set_drn_seed(req.params["visitor_id"], seed)
        return json_response(201, seed)

    def ctl_reset(self, req: Request) -> Response:
        self.store.reset()
        self._load_rate()
        self.buckets.reset()
        with self._stats_lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults_applied.clear()
        return json_response(200, {})

    def ctl_stats(self, req: Request) -> Response:
        with self._stats_lock:
            payload = {
                "requests": dict(self._requests),
                "statuses": {name: dict(counts) for name, counts in self._statuses.items()},
                "faults_applied": dict(self._faults_applied),
                "total": sum(self._requests.values()),
            }
        return json_response(200, payload)
