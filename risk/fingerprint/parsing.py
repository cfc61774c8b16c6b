"""Lenient readers for Fingerprint's JSON: a wrong type becomes None (or empty), never a crash."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_float(value: Any, *, text_ok: bool = False) -> float | None:
    """A JSON number as float; with `text_ok`, numeric strings too ("0.95")."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return float(value)
        if text_ok and isinstance(value, str):
            return float(value)
    except (ValueError, OverflowError):  # "abc", or an integer with hundreds of digits
        return None
    return None


def as_int(value: Any, *, text_ok: bool = False) -> int | None:
    """A whole JSON number as int (12.0 counts); with `text_ok`, numeric strings too."""
    number = as_float(value, text_ok=text_ok)
    if number is None or not number.is_integer():  # also rejects inf and nan
        return None
    return int(number)


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def clamp_int32(value: int | None) -> int | None:
    """Fit a number into a 32-bit integer column (the exact value stays in the raw JSON)."""
    return value if value is None else max(INT32_MIN, min(INT32_MAX, value))


class NonStandardJSONError(ValueError):
    """NaN, Infinity or a number too large for a double: valid for Python, not for JSON (and
    PostgreSQL's jsonb refuses them)."""


def _reject_constant(name: str) -> float:
    raise NonStandardJSONError(f"non-standard JSON number {name}")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):  # 1e400
        raise NonStandardJSONError(f"JSON number {text[:20]} does not fit a double")
    return number


def strict_json_loads(data: str | bytes) -> Any:
    """`json.loads` that refuses NaN/Infinity/overflowing numbers (NonStandardJSONError, a
    ValueError like every other malformed input), and nesting too deep for the parser (which
    raises RecursionError, not ValueError: a few thousand `[` would otherwise be a 500)."""
    try:
        return json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def parse_iso(value: Any) -> datetime | None:
    """RFC 3339 text -> aware datetime (UTC when no offset); None when absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_epoch_ms(value: Any) -> datetime | None:
    """Epoch milliseconds -> aware UTC datetime; None when absent, negative or out of range."""
    ms = as_int(value)
    if ms is None or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
