"""Device Reputation Network: a per-key token bucket and the response body.

The body is derived from the visitor's stored Android events over the last 30 days; anything
seeded through the control API replaces the derived part of the same name.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from risk.fingerprint.events import normalise_event
from risk.fingerprint.suspect_score import SIGNAL_WEIGHTS

SIGNALS = ("regional_activity", "suspect_score", "timestamps")
WINDOW_MS = 30 * 86_400_000
DEFAULT_RPS = 5.0
DEFAULT_BURST = 10

# suspect_score.py name -> DRN's camelCase name
DRN_SIGNAL_NAMES = {
    "root_apps": "rootApps",
    "cloned_app": "clonedApp",
    "location_spoofing": "locationSpoofing",
    "high_activity_device": "highActivity",
    "ip_blocklist": "ipBlocklist",
    "virtual_machine": "virtualMachine",
    "developer_tools": "developerTools",
    "privacy_settings": "privacySettings",
}
VPN_METHOD_NAMES = {
    "public_vpn": "publicVPN",
    "timezone_mismatch": "timezoneMismatch",
    "auxiliary_mobile": "auxiliaryMobile",
    "os_mismatch": "osMismatch",
    "relay": "relay",
    "ml_prediction": "mlPrediction",
}


class TokenBucket:
    """Token buckets keyed by API key; refilled lazily on each call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, rps: float, burst: int) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - last) * rps)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        return allowed

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


def minute_iso(ms: int) -> str:
    """RFC 3339 at minute precision, as DRN reports times."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def _signals(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # The product's reading of the event, so DRN's signals cannot drift from the console's.
    for name in sorted(normalise_event(event).present_signals()):
        weight = SIGNAL_WEIGHTS[name][0]
        if name == "vpn":
            methods = [
                VPN_METHOD_NAMES.get(m, m)
                for m, on in (event.get("vpn_methods") or {}).items()
                if on
            ]
            out["vpn"] = {(methods[0] if methods else "mlPrediction"): weight}
        else:
            out[DRN_SIGNAL_NAMES.get(name, name)] = weight
    return out


def percentile(value: int) -> float:
    if value <= 0:
        return 0
    if value <= 5:
        return 0.25
    if value <= 10:
        return 0.5
    if value <= 20:
        return 0.75
    return 0.95


def _regional_activity(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_ip: Counter[str] = Counter()
    by_origin: Counter[str] = Counter()
    for event in events:
        info = event.get("ip_info") or {}
        geo = (info.get("v4") or info.get("v6") or {}).get("geolocation") or {}
        ip_country = geo.get("country_code")
        if not ip_country:
            continue
        origin = event.get("vpn_origin_country")
        by_ip[ip_country] += 1
        by_origin[
            origin if event.get("vpn") and origin not in (None, "unknown") else ip_country
        ] += 1
    countries = []
    for code in sorted(set(by_ip) | set(by_origin), key=lambda c: -(by_ip[c] + by_origin[c])):
        detectors = [
            {"type": kind, "activityPercentage": round(counter[code] / sum(counter.values()), 4)}
            for kind, counter in (("ip", by_ip), ("origin", by_origin))
            if counter[code]
        ]
        countries.append({"code": code, "detectors": detectors})
    return countries


def drn_body(
    rows: list[tuple[int, str, int, str]],
    seed: dict[str, Any] | None,
    signals: list[str],
    now_ms: int,
) -> dict[str, Any] | None:
    """The `{"data": ...}` body, or None when DRN does not know the visitor (a 404).

    rows: (timestamp, platform, suspect_score, json) of all the visitor's events.
    """
    android = [row for row in rows if row[1] == "android"]
    if not android and seed is None:
        return None
    start = now_ms - WINDOW_MS
    recent = [json.loads(row[3]) for row in android if start <= row[0] <= now_ms]
    seed = seed or {}
    data: dict[str, Any] = {}
    if "regional_activity" in signals:
        activity = {
            "startDate": minute_iso(start),
            "endDate": minute_iso(now_ms),
            "countries": _regional_activity(recent),
        }
        activity.update(seed.get("regional_activity") or {})
        data["regionalActivity"] = activity
    if "suspect_score" in signals:
        score: dict[str, Any] = {
            "startDate": minute_iso(start),
            "endDate": minute_iso(now_ms),
            "minimum": {"value": 0, "signals": {}},
            "maximum": {"value": 0, "percentile": 0, "signals": {}},
        }
        if recent:
            low = min(recent, key=lambda e: e.get("suspect_score", 0))
            high = max(recent, key=lambda e: e.get("suspect_score", 0))
            score["minimum"] = {"value": low.get("suspect_score", 0), "signals": _signals(low)}
            top = high.get("suspect_score", 0)
            score["maximum"] = {
                "value": top,
                "percentile": percentile(top),
                "signals": _signals(high),
            }
        score.update(seed.get("suspect_score") or {})
        data["suspectScore"] = score
    if "timestamps" in signals:
        stamps: dict[str, Any] = {"firstSeenAt": None, "lastSeenAt": None}
        if android:
            stamps = {
                "firstSeenAt": minute_iso(android[0][0]),
                "lastSeenAt": minute_iso(android[-1][0]),
            }
        for key, name in (("first_seen_at", "firstSeenAt"), ("last_seen_at", "lastSeenAt")):
            if seed.get(key):
                stamps[name] = seed[key]
        data["timestamps"] = stamps
    return {"data": data}
