"""Signals -> reasons -> decision. Pure functions: no database, no network.

`evaluate_signup()` runs the server-side checks in Fingerprint's recommended order, then the
rules, and returns every reason that fired (staff see all of them; the client sees none).
The decision is the strictest outcome among the reasons: any deny reason denies, else any
review reason sends the signup to review, else it is allowed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from risk.conf import RiskSettings
from risk.fingerprint.events import Event
from risk.fingerprint.origins import normalise_origin

ALLOW, REVIEW, DENY = "allow", "review", "deny"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass(frozen=True)
class Reason:
    code: str
    outcome: str  # REVIEW or DENY
    description: str  # for reviewers


def _reasons(*items: Reason) -> dict[str, Reason]:
    return {item.code: item for item in items}


REASONS = _reasons(
    Reason("event_not_found", DENY, "Fingerprint has no such event: likely a forged event id"),
    Reason("no_identification", DENY, "The event carries no visitor identification"),
    Reason("event_reused", DENY, "The event id already backed another signup attempt"),
    Reason("event_replayed", DENY, "Fingerprint saw this identification replayed"),
    Reason("event_stale", DENY, "The event is older than RISK_MAX_EVENT_AGE_S"),
    Reason("origin_not_allowed", DENY, "The event was made on a site not in RISK_ALLOWED_ORIGINS"),
    Reason("bot_bad", DENY, "Fingerprint detected a malicious bot"),
    Reason("device_blocked", DENY, "A reviewer blocked this device"),
    Reason("device_limit", DENY, "The device already has RISK_MAX_ACCOUNTS_PER_DEVICE accounts"),
    Reason("origin_mismatch", REVIEW, "The request's Origin differs from the event's page"),
    Reason("ip_mismatch", REVIEW, "The event's IP differs from the signup request's IP"),
    Reason("low_confidence", REVIEW, "Identification confidence below RISK_MIN_CONFIDENCE"),
    Reason("bot_good", REVIEW, "A known good bot (crawler, monitoring) tried to sign up"),
    Reason("suspect_score", REVIEW, "Suspect score at or above RISK_SUSPECT_SCORE_REVIEW"),
    Reason("vpn", REVIEW, "The visitor uses a VPN"),
    Reason("tampering", REVIEW, "Browser tampering or an anti-detect browser"),
    Reason("tor", REVIEW, "The request came from a Tor exit node"),
    Reason("fingerprint_unavailable", REVIEW, "Fingerprint was unreachable; event not checked"),
    Reason(
        "drn_new_device", REVIEW, "DRN first saw the device under RISK_DRN_NEW_DEVICE_MINUTES ago"
    ),
    Reason("drn_location_masked", REVIEW, "DRN: the device's real country never shows in its IPs"),
    Reason(
        "drn_high_percentile", REVIEW, "DRN max suspect percentile >= RISK_DRN_PERCENTILE_REVIEW"
    ),
)
# Every check, in the order it runs; the admin shows them in this order.
CHECKS = (
    "event_found",
    "identification",
    "not_reused",
    "not_replayed",
    "fresh",
    "origin",
    "ip",
    "confidence",
)


class DrnFacts(Protocol):
    """What the DRN rules read: a `DrnSnapshot` row or a `DrnResult` both fit."""

    first_seen_at: datetime | None
    location_masked: bool | None
    max_percentile: float | None


@dataclass(frozen=True)
class SignupContext:
    """What the rules need to know about one signup attempt."""

    event: Event | None
    now: datetime
    fetch_failure: str = ""  # "" | "not_found" | "unavailable"
    event_reused: bool = False
    client_ip: str = ""
    request_origin: str = ""
    device_status: str = "normal"
    device_accounts: int = 0
    drn: DrnFacts | None = None  # Device Reputation Network lookup (Android), if one answered


@dataclass
class Assessment:
    decision: str
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)


def decide(reason_codes: list[str], *, unavailable_outcome: str = REVIEW) -> str:
    outcomes = set()
    for code in reason_codes:
        outcome = REASONS[code].outcome
        if code == "fingerprint_unavailable":
            outcome = unavailable_outcome
        outcomes.add(outcome)
    if DENY in outcomes:
        return DENY
    return REVIEW if REVIEW in outcomes else ALLOW


def evaluate_signup(ctx: SignupContext, cfg: RiskSettings) -> Assessment:
    checks = {name: SKIPPED for name in CHECKS}
    reasons: list[str] = []
    unavailable_outcome = DENY if cfg.failure_policy == "deny" else REVIEW

    if ctx.fetch_failure == "unavailable":
        return Assessment(
            decide(["fingerprint_unavailable"], unavailable_outcome=unavailable_outcome),
            ["fingerprint_unavailable"],
            checks,
        )
    event = ctx.event
    if ctx.fetch_failure == "not_found" or event is None:
        checks["event_found"] = FAILED
        return Assessment(DENY, ["event_not_found"], checks)
    checks["event_found"] = PASSED

    def check(name: str, ok: bool | None, reason: str) -> None:
        if ok is None:
            return  # not applicable: stays "skipped"
        checks[name] = PASSED if ok else FAILED
        if not ok:
            reasons.append(reason)

    check("identification", event.has_identification, "no_identification")
    check("not_reused", not ctx.event_reused, "event_reused")
    check("not_replayed", event.replayed is not True, "event_replayed")
    check("fresh", _is_fresh(event, ctx.now, cfg.max_event_age_s), "event_stale")
    _check_origin(event, ctx, cfg, checks, reasons)
    if cfg.check_ip and ctx.client_ip:
        check("ip", _same_ip(event.ip, ctx.client_ip), "ip_mismatch")
    if event.confidence is not None:
        check("confidence", event.confidence >= cfg.min_confidence, "low_confidence")

    # Rules on the device and the Smart Signals.
    if event.bot == "bad":
        reasons.append("bot_bad")
    elif event.bot == "good":
        reasons.append("bot_good")
    if ctx.device_status == "blocked":
        reasons.append("device_blocked")
    elif ctx.device_status != "trusted" and ctx.device_accounts >= cfg.max_accounts_per_device:
        reasons.append("device_limit")
    if event.suspect_score is not None and event.suspect_score >= cfg.suspect_score_review:
        reasons.append("suspect_score")
    if event.vpn:
        reasons.append("vpn")
    if event.tampering or event.anti_detect_browser:
        reasons.append("tampering")
    if event.tor:
        reasons.append("tor")
    if ctx.drn is not None:
        reasons += drn_reasons(ctx.drn, now=ctx.now, cfg=cfg)
    return Assessment(decide(reasons), reasons, checks)


def drn_reasons(drn: DrnFacts, *, now: datetime, cfg: RiskSettings) -> list[str]:
    """Reasons from what the whole Fingerprint network saw of the device. Unknown values
    (a part not returned, a failed lookup) never fire a rule."""
    reasons = []
    first_seen, minutes = drn.first_seen_at, cfg.drn_new_device_minutes
    if minutes > 0 and first_seen is not None and now - first_seen < timedelta(minutes=minutes):
        reasons.append("drn_new_device")
    if cfg.drn_location_masked_review and drn.location_masked:
        reasons.append("drn_location_masked")
    percentile = drn.max_percentile
    if percentile is not None and percentile > 0 and percentile >= cfg.drn_percentile_review:
        reasons.append("drn_high_percentile")
    return reasons


def refused_by_event(event: Event, *, now: datetime, cfg: RiskSettings) -> bool:
    """True when the event alone already denies the signup (whatever the device's history),
    so the caller can skip work such as a DRN lookup."""
    return (
        not event.has_identification
        or event.replayed is True
        or event.bot == "bad"
        or not _is_fresh(event, now, cfg.max_event_age_s)
    )


def _is_fresh(event: Event, now: datetime, max_age_s: int) -> bool:
    if event.timestamp is None:
        return False
    age = (now - event.timestamp).total_seconds()
    # A few seconds into the future is clock skew between Fingerprint and us, not an attack.
    return -30 <= age <= max_age_s


def _check_origin(
    event: Event, ctx: SignupContext, cfg: RiskSettings, checks: dict, reasons: list
) -> None:
    if not cfg.allowed_origins:
        return  # origin check off
    event_origin = event.origin
    if event_origin not in cfg.allowed_origins:
        # Android/iOS events have no page URL: only browser events are held to the allow-list.
        if event.platform in ("android", "ios") and not event_origin:
            return
        checks["origin"] = FAILED
        reasons.append("origin_not_allowed")
        return
    request_origin = normalise_origin(ctx.request_origin) if ctx.request_origin else ""
    if request_origin and request_origin != event_origin:
        checks["origin"] = FAILED
        reasons.append("origin_mismatch")
        return
    checks["origin"] = PASSED


def _same_ip(event_ip: str, client_ip: str) -> bool:
    try:
        a, b = ipaddress.ip_address(event_ip), ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    a = getattr(a, "ipv4_mapped", None) or a
    b = getattr(b, "ipv4_mapped", None) or b
    return a == b
