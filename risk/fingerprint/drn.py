"""Device Reputation Network (DRN) client: what Fingerprint's whole network saw of an Android
device over the last 30 days.

There is no official SDK, so this is the same small shape as `client.py`: plain `requests`,
one pooled session, a total time budget per call (attempts use what is left of it as their
read timeout), urllib3's `Retry` for counting retries of connection errors, 5xx and 429 with
jittered backoff, and the errors of `errors.py`. DRN's quota is per key and unpublished, so
every attempt (retries included) first takes a slot from a client-side rate limiter shared
by the process; no slot within the budget is a `RateLimitedError` without a request.

Parsing is lenient: any part may be missing, a device with no recent activity has empty
countries and zero scores, and signal weights may be nested (`{"vpn": {"publicVPN": 5}}`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from risk.fingerprint.errors import NotFoundError
from risk.fingerprint.parsing import as_dict, as_float, as_int, as_list, parse_iso
from risk.fingerprint.rate_limit import Limiter
from risk.fingerprint.transport import BudgetedTransport

logger = logging.getLogger(__name__)

API_VERSION = "2024-09-01"
SIGNALS = ("regional_activity", "suspect_score", "timestamps")


# --- typed results -------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryActivity:
    """Shares (0..1) of the device's activity placed in one country by each detector."""

    code: str
    ip: float = 0.0  # where its IP address geolocates (a VPN exit shows here)
    origin: float = 0.0  # where the device really was

    @property
    def masked(self) -> bool:
        """The device was really here, yet its IP never showed this country."""
        return self.origin > 0 and self.ip <= 0

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "ip": self.ip, "origin": self.origin}


@dataclass(frozen=True)
class ScoreBound:
    """The minimum or maximum suspect score seen network-wide, and the signals behind it."""

    value: int | None
    signals: dict[str, Any]  # as sent: weights, possibly nested ({"vpn": {"publicVPN": 5}})
    percentile: float | None = None  # maximum only: 0.25 / 0.5 / 0.75 / 0.95

    @property
    def flat_signals(self) -> dict[str, Any]:
        return flatten_signals(self.signals)


@dataclass(frozen=True)
class DrnResult:
    visitor_id: str
    raw: dict[str, Any]  # the whole response body, untouched
    # None when the part was not requested or not sent; empty when there was no activity.
    countries: tuple[CountryActivity, ...] | None = None
    activity_start: datetime | None = None
    activity_end: datetime | None = None
    min_score: ScoreBound | None = None
    max_score: ScoreBound | None = None
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None

    @property
    def location_masked(self) -> bool | None:
        """An origin country that the ip detector never saw; None without regional activity."""
        if self.countries is None:
            return None
        return any(country.masked for country in self.countries)

    @property
    def max_percentile(self) -> float | None:
        return self.max_score.percentile if self.max_score else None


def flatten_signals(signals: Any, prefix: str = "") -> dict[str, Any]:
    """{"vpn": {"publicVPN": 5}, "emulator": 8} -> {"vpn.publicVPN": 5, "emulator": 8}."""
    if not isinstance(signals, dict):
        return {}
    flat: dict[str, Any] = {}
    for name, value in signals.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten_signals(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def _countries(activity: dict) -> tuple[CountryActivity, ...]:
    shares: dict[str, dict[str, float]] = {}
    for country in as_list(activity.get("countries")):
        code = str(as_dict(country).get("code") or "").upper()
        if not code:
            continue
        entry = shares.setdefault(code, {"ip": 0.0, "origin": 0.0})
        for detector in as_list(as_dict(country).get("detectors")):
            kind = as_dict(detector).get("type")
            share = as_float(as_dict(detector).get("activityPercentage"), text_ok=True) or 0.0
            if kind in entry:  # unknown detector types are kept in raw only
                entry[kind] = max(entry[kind], min(max(share, 0.0), 1.0))
    rows = [CountryActivity(code, s["ip"], s["origin"]) for code, s in shares.items()]
    return tuple(sorted(rows, key=lambda c: (-max(c.ip, c.origin), c.code)))


def _bound(part: Any, *, with_percentile: bool) -> ScoreBound | None:
    if not isinstance(part, dict):
        return None
    return ScoreBound(
        value=as_int(part.get("value"), text_ok=True),
        signals=as_dict(part.get("signals")),
        percentile=as_float(part.get("percentile"), text_ok=True) if with_percentile else None,
    )


def parse_drn(body: dict[str, Any], *, visitor_id: str) -> DrnResult:
    """A DRN response body -> DrnResult. Never raises on missing or odd parts."""
    data = as_dict(as_dict(body).get("data"))
    activity = data.get("regionalActivity")
    score = as_dict(data.get("suspectScore"))
    stamps = as_dict(data.get("timestamps"))
    return DrnResult(
        visitor_id=visitor_id,
        raw=body if isinstance(body, dict) else {},
        countries=_countries(activity) if isinstance(activity, dict) else None,
        activity_start=parse_iso(as_dict(activity).get("startDate")),
        activity_end=parse_iso(as_dict(activity).get("endDate")),
        min_score=_bound(score.get("minimum"), with_percentile=False),
        max_score=_bound(score.get("maximum"), with_percentile=True),
        first_seen_at=parse_iso(stamps.get("firstSeenAt")),
        last_seen_at=parse_iso(stamps.get("lastSeenAt")),
    )


# --- the client ----------------------------------------------------------------------------


class DrnClient:
    """Thread-safe; build one per process and share it (with one shared limiter)."""

    def __init__(
        self,
        *,
        api_url: str,
        secret_key: str,
        timeout_s: float = 2.0,
        connect_timeout_s: float = 1.0,
        max_retries: int = 2,
        backoff_s: float = 0.1,
        limiter: Limiter | None = None,
        pool_size: int = 16,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        self.limiter = limiter
        self._transport = BudgetedTransport(
            base_url=self.api_url,
            headers={"Authorization": f"Bearer {secret_key}", "X-API-Version": API_VERSION},
            service="DRN",
            connect_timeout_s=connect_timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            pool_size=pool_size,
            limiter=limiter,
            not_found_code="http.not_found",
        )

    def __repr__(self) -> str:  # never show the key
        return f"DrnClient(api_url={self.api_url!r}, limiter={self.limiter!r})"

    def close(self) -> None:
        self._transport.close()

    def lookup(
        self,
        visitor_id: str,
        *,
        signals: Iterable[str] = SIGNALS,
        budget_s: float | None = None,
    ) -> DrnResult:
        """What DRN knows of an Android visitor. `budget_s` caps the whole call (limiter
        waits and retries included); default: the client's `timeout_s`."""
        if not visitor_id:
            raise NotFoundError("empty visitor id", status=404, code="http.not_found")
        body = self._transport.request(
            "GET",
            f"/drn/{quote(visitor_id, safe='')}",
            params={"signals": ",".join(signals)},
            budget_s=self.timeout_s if budget_s is None else budget_s,
        )
        return parse_drn(body, visitor_id=visitor_id)
