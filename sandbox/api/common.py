"""What the sandbox APIs share: 400s, time and boolean parameters, search filters and pages."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from .. import factory
from ..routing import Request, Response, error
from ..state import SandboxState
from ..store import SearchFilter

DEFAULT_WINDOW_MS = 7 * 86_400_000


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


def json_body(req: Request) -> Any:
    try:
        return req.json()
    except ValueError as exc:
        raise BadRequestError("body is not JSON") from exc


def search_filter(req: Request, cursor_param: str) -> tuple[SearchFilter, int]:
    """The search parameters v4 and v3 share (they differ only in the cursor's name)."""
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


def search_page(app: SandboxState, flt: SearchFilter, limit: int) -> tuple[list[str], str | None]:
    """Up to `limit` stored event JSON texts, newest first, and the next page's cursor."""
    rows = app.store.search(flt, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    key = encode_cursor(rows[-1][0], rows[-1][1]) if more else None
    return [row[2] for row in rows], key


def event_not_found(code: str = "event_not_found", message: str = "event id not found") -> Response:
    return error(404, code, message)
