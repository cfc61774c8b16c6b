"""Create events against the store: visitor history, velocity and overrides applied."""

from __future__ import annotations

import json
import time
from typing import Any

from .profiles import (
    PROFILES,
    History,
    build_event,
    compute_suspect_score,
    deep_merge,
    new_event_id,
    new_visitor_id,
)
from .store import Store, event_row

WINDOWS = (("5_minutes", 5 * 60_000), ("1_hour", 3_600_000), ("24_hours", 86_400_000))


def now_ms() -> int:
    return int(time.time() * 1000)


def _counts(timestamps_and_values: list[tuple[int, Any]], now: int) -> dict[str, int]:
    """Distinct values per velocity window (events are counted by passing unique values)."""
    return {
        name: len({value for ts, value in timestamps_and_values if ts > now - span})
        for name, span in WINDOWS
    }


def velocity(
    store: Store,
    *,
    visitor_id: str,
    ip: str,
    country: str | None,
    linked_id: str | None,
    now: int,
) -> dict[str, dict[str, int]]:
    """Velocity signals from the stored history, this event included."""
    day_ago = now - 86_400_000
    mine = [*store.recent_by_visitor(visitor_id, day_ago), (now, ip, country, linked_id)]
    mine = [row for row in mine if row[0] <= now]
    result = {
        "distinct_ip": _counts([(r[0], r[1]) for r in mine], now),
        "distinct_country": _counts([(r[0], r[2]) for r in mine], now),
        "events": _counts([(r[0], i) for i, r in enumerate(mine)], now),
        "ip_events": _counts(
            [(ts, i) for i, ts in enumerate([*store.recent_by_ip(ip, day_ago), now]) if ts <= now],
            now,
        ),
    }
    linked = [r for r in mine if r[3]]
    if linked_id:
        result["distinct_linked_id"] = _counts([(r[0], r[3]) for r in linked], now)
        by_link = [*store.recent_by_linked_id(linked_id, day_ago), (now, ip, visitor_id)]
        by_link = [row for row in by_link if row[0] <= now]
        result["distinct_ip_by_linked_id"] = _counts([(r[0], r[1]) for r in by_link], now)
        result["distinct_visitor_id_by_linked_id"] = _counts([(r[0], r[2]) for r in by_link], now)
    return result


def create_event(
    store: Store,
    profile: str = "human",
    *,
    visitor_id: str | None = None,
    ip: str | None = None,
    url: str | None = None,
    user_agent: str | None = None,
    bot_type: str | None = None,
    timestamp_ms: int | None = None,
    age_s: float | None = None,
    replayed: bool = False,
    linked_id: str | None = None,
    tags: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Generate, store and return one v4 event. Raises KeyError for an unknown profile."""
    if profile not in PROFILES:
        raise KeyError(profile)
    ts = timestamp_ms if timestamp_ms is not None else now_ms() - int((age_s or 0) * 1000)
    visitor_id = visitor_id or new_visitor_id()
    first, last = store.visitor_span(visitor_id, ts)
    event = build_event(
        profile,
        visitor_id=visitor_id,
        timestamp=ts,
        ip=ip,
        url=url,
        user_agent=user_agent,
        bot_type=bot_type,
        replayed=replayed,
        linked_id=linked_id,
        tags=tags,
        history=History(first, last),
    )
    geo = next(iter(event["ip_info"].values()))["geolocation"]
    event["velocity"] = velocity(
        store,
        visitor_id=visitor_id,
        ip=event["ip_address"],
        country=geo["country_code"],
        linked_id=linked_id,
        now=ts,
    )
    if overrides:
        deep_merge(event, overrides)
        if "suspect_score" not in overrides:
            event["suspect_score"] = compute_suspect_score(event)
    store.insert_event(event)
    return event


def bulk_events(
    store: Store,
    count: int,
    profile: str = "human",
    *,
    visitor_id: str | None = None,
    visitors: int | None = None,
    spread_s: float = 0,
    age_s: float = 0,
    overrides: dict[str, Any] | None = None,
    **fields: Any,
) -> list[str]:
    """Insert `count` events fast, for benchmarks.

    One template event is serialised once and ids/timestamps are substituted textually, so no
    per-event history or velocity is computed. Events are spaced evenly over `spread_s` seconds
    (at least 1 ms apart), newest `age_s` seconds ago. `visitors` distinct visitor ids are used
    round-robin (default: one per event, or the single `visitor_id`).
    """
    if profile not in PROFILES:
        raise KeyError(profile)
    newest = now_ms() - int(age_s * 1000)
    step = max(1, int(spread_s * 1000 / count)) if count else 1
    template_visitor = "V" * 20
    base = build_event(profile, visitor_id=visitor_id or new_visitor_id(), timestamp=0, **fields)
    base["event_id"] = "@@EVENT_ID@@"
    base["identification"]["visitor_id"] = template_visitor
    if overrides:
        deep_merge(base, overrides)
        if "suspect_score" not in overrides:
            base["suspect_score"] = compute_suspect_score(base)
    text = json.dumps(base, separators=(",", ":"))
    # Timestamps are the only integers we rewrite: mark them in the serialised template.
    text = text.replace('"timestamp":0', '"timestamp":@@TS@@')
    text = text.replace('"first_seen_at":0', '"first_seen_at":@@TS@@')
    text = text.replace('"last_seen_at":0', '"last_seen_at":@@TS@@')
    row = list(event_row(base, text))
    if visitor_id:
        pool = [visitor_id]
    else:
        pool = [new_visitor_id() for _ in range(min(visitors or count, count) or 1)]
    ids: list[str] = []
    rows = []
    for i in range(count):
        ts = newest - i * step
        event_id = new_event_id(ts)
        visitor = pool[i % len(pool)]
        row[0], row[1], row[2] = event_id, visitor, ts
        row[-1] = (
            text.replace("@@EVENT_ID@@", event_id)
            .replace("@@TS@@", str(ts))
            .replace(template_visitor, visitor)
        )
        rows.append(tuple(row))
        ids.append(event_id)
    store.insert_rows(rows)
    return ids
