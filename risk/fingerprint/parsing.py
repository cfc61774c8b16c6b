"""Lenient readers for Fingerprint's JSON: a wrong type becomes None (or empty), never a crash."""

from __future__ import annotations

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
