"""Signals -> reasons -> decision. Pure functions: no database, no network.

The decision is data: `RULES` is one table. Each row has a reason code, the outcome it forces,
a description for reviewers, its predicate, and whether it needs the device's history (facts
only the database knows: earlier accounts, earlier networks, other devices on the IP). The
server-side checks (Fingerprint's recommended order) are rows too, tagged with the check they
fail. Everything that needs to know "would this be refused?" derives from the table:
`evaluate_signup`, `refused_by_event` (skip the DRN lookup), `refused_without_lock` (refuse
from a plain read), the path that loses the event-claim race, and the view's 503 mapping.

The decision is the strictest outcome among the reasons that fired:
deny > unverified > review > allow. Why each threshold is what it is:
docs/decision-quality.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.db.models import TextChoices

from risk.conf import RiskSettings
from risk.email_domains import disposable_domain
from risk.fingerprint.events import Event
from risk.fingerprint.origins import normalise_origin


class Decision(TextChoices):
    """The outcome of a signup attempt (shared by the rules and the models)."""

    ALLOW = "allow", "Allow"
    REVIEW = "review", "Review"
    DENY = "deny", "Deny"
    # Accepted while Fingerprint was unavailable: account inactive until verified.
    UNVERIFIED = "unverified", "Unverified"


ALLOW, REVIEW, DENY, UNVERIFIED = (
    Decision.ALLOW,
    Decision.REVIEW,
    Decision.DENY,
    Decision.UNVERIFIED,
)
STRICTNESS = (DENY, UNVERIFIED, REVIEW)  # strictest first
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


class DrnFacts(Protocol):
    """What the DRN rules read: a `DrnSnapshot` row or a `DrnResult` both fit."""

    first_seen_at: datetime | None
    location_masked: bool | None
    max_percentile: float | None


@dataclass(frozen=True)
class SignupContext:
    """What the rules know about one signup attempt."""

    event: Event | None
    now: datetime
    fetch_failure: str = ""  # "" | "not_found" | "unavailable"
    client_ip: str = ""
    request_origin: str = ""
    drn: DrnFacts | None = None  # Device Reputation Network lookup (Android), if one answered
    # History (from the database, read under the device lock)
    event_reused: bool = False
    device_status: str = "normal"
    device_accounts: int = 0  # accounts on the device before this one
    same_network: bool | None = None  # an earlier signup of the device came from this network
    ip_new_devices: int = 0  # other brand-new devices that signed up from this IP in an hour
    ip_established_devices: int = 0  # ... and other devices that were not brand-new
    email_domain: str = ""
    allowlist_entry: str = ""  # the allowlist entry that covers the signup ("" = none)
    username_taken: bool = False  # the account could not be created: the name went meanwhile
    account_failed: bool = False  # the account could not be created: a server or database error


# --- what the signals mean (shared by several rules) ------------------------------------------


def brand_new(event: Event, cfg: RiskSettings) -> bool:
    """Fingerprint first saw this browser or app minutes ago (a fresh profile)."""
    age = event.device_age
    if age is None:
        return event.visitor_found is False
    return age < timedelta(minutes=cfg.new_device_minutes)


def new_to_everyone(ctx: SignupContext, cfg: RiskSettings) -> bool:
    """Brand-new here, and vouched for by nobody: not by the Device Reputation Network (an
    Android phone DRN has known for a while is a new install of the app, not a new device),
    nor by a reviewer who trusted the device."""
    if ctx.event is None or ctx.device_status == "trusted" or not brand_new(ctx.event, cfg):
        return False
    first_seen = ctx.drn.first_seen_at if ctx.drn is not None else None
    vouched = first_seen is not None and ctx.now - first_seen >= timedelta(
        hours=cfg.established_device_hours
    )
    return not vouched


def hosting_network(event: Event) -> bool:
    """The IP is a datacenter, a proxy, or on an abuse blocklist. Not privacy tools: a
    consumer VPN's exit is a datacenter, and Tor exits rotate by design (Tor is its own,
    review-only rule)."""
    if event.vpn is True or event.tor is True:
        return event.ip_blocklisted is True
    datacenter = event.datacenter is True
    proxy = event.proxy is True and event.proxy_confidence != "low"
    return datacenter or proxy or event.ip_blocklisted is True


def automation(event: Event) -> list[str]:
    """Signals of a scripted, emulated or instrumented device."""
    signals = {
        "bot": event.bot not in ("", "not_detected"),
        "virtual_machine": event.virtual_machine is True,
        "emulator": event.emulator is True,
        "root_apps": event.root_apps is True,
        "frida": event.frida is True,
        "cloned_app": event.cloned_app is True,
        "location_spoofing": event.location_spoofing is True,
        "tampering": event.tampering is True or event.anti_detect_browser is True,
    }
    return [name for name, on in signals.items() if on]


def farm_signals(ctx: SignupContext, cfg: RiskSettings) -> list[str]:
    """Why a device past the soft limit (or a throwaway mailbox) is a farm rather than a
    household: any one of these turns a hold into a denial. Privacy signals (VPN, incognito,
    privacy settings) are not among them; a young device alone is not either (a family
    signing up together on its first visit looks just like that), but a young device on a
    network where young devices keep signing up is."""
    event = ctx.event
    if event is None:
        return []
    found = automation(event)
    ips = event.velocity_count("distinct_ip", "1_hour")
    if ips is not None and ips > cfg.person_max_ips_1h:
        found.append("velocity")
    if ctx.same_network is False:
        found.append("network_changed")
    if hosting_network(event):
        found.append("hosting_network")
    if event.high_activity is True:
        found.append("high_activity")
    if _ip_new_devices_at_least(ctx, cfg, cfg.ip_new_devices_review_1h):
        found.append("new_devices_on_network")
    reset = event.factory_reset_at
    if reset is not None and ctx.now - reset < timedelta(hours=cfg.established_device_hours):
        found.append("factory_reset")
    return found


def _over_soft_limit(ctx: SignupContext, cfg: RiskSettings) -> bool:
    return (
        ctx.device_status != "trusted"
        and cfg.max_accounts_per_device <= ctx.device_accounts < cfg.max_accounts_per_device_hard
    )


def _device_limit_denies(ctx: SignupContext, cfg: RiskSettings) -> bool:
    return _over_soft_limit(ctx, cfg) and (cfg.device_limit_strict or bool(farm_signals(ctx, cfg)))


def new_device_share(ctx: SignupContext) -> float:
    """Of the other devices that signed up from this network within the hour, the share that
    were brand-new. A farm's address is nearly all brand-new devices; a campus, carrier NAT or
    office address is mostly devices that are weeks or months old (1.0 with no others)."""
    total = ctx.ip_new_devices + ctx.ip_established_devices
    return ctx.ip_new_devices / total if total else 1.0


def _ip_new_devices_at_least(ctx: SignupContext, cfg: RiskSettings, threshold: int) -> bool:
    return (
        threshold > 0
        and ctx.ip_new_devices >= threshold
        and new_device_share(ctx) >= cfg.ip_new_device_share
        and new_to_everyone(ctx, cfg)
    )


def _disposable(ctx: SignupContext, cfg: RiskSettings) -> bool:
    return disposable_domain(ctx.email_domain, cfg)


def _is_fresh(event: Event, now: datetime, max_age_s: int) -> bool:
    if event.timestamp is None:
        return False
    age = (now - event.timestamp).total_seconds()
    # A few seconds into the future is clock skew between Fingerprint and us, not an attack.
    return -30 <= age <= max_age_s


def _origin_not_allowed(ctx: SignupContext, cfg: RiskSettings) -> bool | None:
    if not cfg.allowed_origins:
        return None  # origin check off
    event = ctx.event
    # Android/iOS events have no page URL: only browser events are held to the allow-list.
    if event.platform in ("android", "ios") and not event.origin:
        return None
    return event.origin not in cfg.allowed_origins


def _origin_mismatch(ctx: SignupContext, cfg: RiskSettings) -> bool | None:
    if not cfg.allowed_origins or _origin_not_allowed(ctx, cfg) is not False:
        return None
    request_origin = normalise_origin(ctx.request_origin) if ctx.request_origin else ""
    return bool(request_origin) and request_origin != ctx.event.origin


def _ip_mismatch(ctx: SignupContext, cfg: RiskSettings) -> bool | None:
    if not cfg.check_ip:
        return None
    # Fails closed: a request whose client IP we could not read does not pass the check.
    return not _same_ip(ctx.event.ip, ctx.client_ip)


def _same_ip(event_ip: str, client_ip: str) -> bool:
    try:
        a, b = ipaddress.ip_address(event_ip), ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    a = getattr(a, "ipv4_mapped", None) or a
    b = getattr(b, "ipv4_mapped", None) or b
    return a == b


def same_network(a: str, b: str) -> bool:
    """Same /24 (IPv4) or /48 (IPv6): one home, office or carrier pool."""
    try:
        x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    if x.version != y.version:
        return False
    prefix = 24 if x.version == 4 else 48
    return ipaddress.ip_network(f"{x}/{prefix}", strict=False) == ipaddress.ip_network(
        f"{y}/{prefix}", strict=False
    )


def _drn_new_device(ctx: SignupContext, cfg: RiskSettings) -> bool:
    first_seen, minutes = ctx.drn.first_seen_at, cfg.drn_new_device_minutes
    return (
        minutes > 0 and first_seen is not None and ctx.now - first_seen < timedelta(minutes=minutes)
    )


def _drn_high_percentile(ctx: SignupContext, cfg: RiskSettings) -> bool:
    percentile = ctx.drn.max_percentile
    return percentile is not None and percentile > 0 and percentile >= cfg.drn_percentile_review


# --- the table -----------------------------------------------------------------------------

Predicate = Callable[[SignupContext, RiskSettings], "bool | None"]


@dataclass(frozen=True)
class Rule:
    code: str
    outcome: Decision  # REVIEW, DENY or UNVERIFIED
    description: str  # for reviewers
    predicate: Predicate  # True fires; False passes; None: not applicable
    needs_history: bool = False  # reads facts only the database knows (under the device lock)
    check: str = ""  # the server-side check it belongs to, if any
    without_event: bool = False  # applies when there is no event (nothing else does then)
    # A denial that is final when it fires on facts read without the device lock (history the
    # plain read cannot see left neutral: same_network None, ip_new_devices 0), because the
    # facts it reads only grow: claims on an event, accounts on a device, a block.
    lock_free: bool = False
    # A refusal that is not the client's fault: the API answers 503 with Retry-After.
    temporary: bool = False
    # Counts signups (per network, per device): an allowlisted signup skips it. Nothing that
    # reads the event's own signals or the server-side checks is one.
    volume: bool = False


def on_event(test: Callable[[Event], bool]) -> Predicate:
    """A predicate on the event alone."""
    return lambda ctx, cfg: test(ctx.event)


RULES: tuple[Rule, ...] = (
    # Fingerprint could not tell us anything
    Rule("fingerprint_unavailable", UNVERIFIED,
         "Fingerprint was unreachable: accepted unverified (policy review) or refused with "
         "503 (policy deny); verified later",
         lambda ctx, cfg: ctx.fetch_failure == "unavailable", without_event=True,
         temporary=True),
    Rule("event_not_found", DENY, "Fingerprint has no such event: likely a forged event id",
         lambda ctx, cfg: None if ctx.fetch_failure == "unavailable"
         else ctx.fetch_failure == "not_found" or ctx.event is None,
         without_event=True, check="event_found"),
    # The server-side checks, in Fingerprint's recommended order
    Rule("no_identification", DENY, "The event carries no visitor identification",
         on_event(lambda e: not e.has_identification), check="identification"),
    Rule("event_reused", DENY, "The event id already backed another signup attempt",
         lambda ctx, cfg: ctx.event_reused, needs_history=True, check="not_reused",
         lock_free=True),
    Rule("event_replayed", DENY, "Fingerprint saw this identification replayed",
         on_event(lambda e: e.replayed is True), check="not_replayed"),
    Rule("event_stale", DENY, "The event is older than RISK_MAX_EVENT_AGE_S",
         lambda ctx, cfg: not _is_fresh(ctx.event, ctx.now, cfg.max_event_age_s),
         check="fresh"),
    Rule("origin_not_allowed", DENY,
         "The event was made on a site not in RISK_ALLOWED_ORIGINS", _origin_not_allowed,
         check="origin"),
    Rule("origin_mismatch", REVIEW, "The request's Origin differs from the event's page",
         _origin_mismatch, check="origin"),
    Rule("ip_mismatch", REVIEW,
         "The event's IP differs from the signup request's IP (or the request's IP is unknown)",
         _ip_mismatch, check="ip"),
    Rule("low_confidence", REVIEW, "Identification confidence below RISK_MIN_CONFIDENCE",
         lambda ctx, cfg: None if ctx.event.confidence is None
         else ctx.event.confidence < cfg.min_confidence, check="confidence"),
    # Strong evidence of automation or a farm: deny
    Rule("bot_bad", DENY, "Fingerprint detected a malicious bot",
         on_event(lambda e: e.bot == "bad")),
    Rule("anti_detect_browser", DENY,
         "An anti-detect browser: a tool for running many fake identities",
         on_event(lambda e: e.anti_detect_browser is True)),
    Rule("emulator_tampered", DENY, "An Android emulator with root access or Frida hooks",
         on_event(lambda e: e.emulator is True and (e.root_apps is True or e.frida is True))),
    Rule("vm_developer_tools", DENY, "A virtual machine driven with developer tools open",
         on_event(lambda e: e.virtual_machine is True and e.developer_tools is True)),
    Rule("velocity_ips", DENY,
         "The device used RISK_VELOCITY_MAX_IPS_1H or more IPs in an hour: rotating proxies",
         lambda ctx, cfg: (ctx.event.velocity_count("distinct_ip", "1_hour") or 0)
         >= cfg.velocity_max_ips_1h),
    Rule("new_device_hosting", DENY,
         "A brand-new device on a datacenter, proxy, Tor or blocklisted IP (a consumer VPN is "
         "not enough)",
         lambda ctx, cfg: new_to_everyone(ctx, cfg) and hosting_network(ctx.event)),
    Rule("ip_new_device_burst", DENY,
         "A brand-new device from an IP where RISK_IP_NEW_DEVICES_DENY_1H other brand-new "
         "devices signed up within the hour, and they are most of its signups "
         "(RISK_IP_NEW_DEVICE_SHARE): a farm rotating devices behind one address",
         lambda ctx, cfg: _ip_new_devices_at_least(ctx, cfg, cfg.ip_new_devices_deny_1h),
         needs_history=True, volume=True),
    Rule("disposable_email_farm", DENY,
         "A throwaway-mailbox domain from a device with a farm signal (automation, IPs "
         "changing, hosting network, high activity, a recent factory reset)",
         lambda ctx, cfg: _disposable(ctx, cfg) and bool(farm_signals(ctx, cfg))),
    # The device and its history
    Rule("device_blocked", DENY, "A reviewer blocked this device",
         lambda ctx, cfg: ctx.device_status == "blocked", needs_history=True, lock_free=True),
    Rule("device_limit_hard", DENY,
         "The device already has RISK_MAX_ACCOUNTS_PER_DEVICE_HARD accounts",
         lambda ctx, cfg: ctx.device_status != "trusted"
         and ctx.device_accounts >= cfg.max_accounts_per_device_hard,
         needs_history=True, lock_free=True, volume=True),
    Rule("device_limit", DENY,
         "Past RISK_MAX_ACCOUNTS_PER_DEVICE with a farm signal (automation, IPs changing, "
         "hosting network, high activity) or RISK_DEVICE_LIMIT_STRICT",
         _device_limit_denies, needs_history=True, lock_free=True, volume=True),
    Rule("device_shared", REVIEW,
         "Past RISK_MAX_ACCOUNTS_PER_DEVICE on a clean device on its usual network: a "
         "household or shared PC",
         lambda ctx, cfg: _over_soft_limit(ctx, cfg) and not _device_limit_denies(ctx, cfg),
         needs_history=True, volume=True),
    Rule("username_taken", DENY,
         "The username was taken by a concurrent signup; no account was created",
         lambda ctx, cfg: ctx.username_taken, needs_history=True),
    Rule("account_failed", DENY,
         "The account could not be created (a server or database failure after the decision); "
         "no account was created and the device got its slot back",
         lambda ctx, cfg: ctx.account_failed, needs_history=True),
    # Weaker signals: a reviewer looks
    Rule("ip_new_devices", REVIEW,
         "A brand-new device from an IP where RISK_IP_NEW_DEVICES_REVIEW_1H other brand-new "
         "devices signed up within the hour, and they are most of its signups (a shared "
         "network, mostly established devices, holds no one)",
         lambda ctx, cfg: _ip_new_devices_at_least(ctx, cfg, cfg.ip_new_devices_review_1h)
         and not _ip_new_devices_at_least(ctx, cfg, cfg.ip_new_devices_deny_1h),
         needs_history=True, volume=True),
    Rule("disposable_email", REVIEW,
         "A throwaway-mailbox domain (the disposable-email-domains list, "
         "RISK_DISPOSABLE_EMAIL_DOMAINS): people use them for privacy, so a reviewer looks",
         lambda ctx, cfg: _disposable(ctx, cfg) and not farm_signals(ctx, cfg)),
    Rule("bot_good", REVIEW, "A known good bot (crawler, monitoring) tried to sign up",
         on_event(lambda e: e.bot == "good")),
    Rule("tampering", REVIEW, "Fingerprint saw browser tampering (no anti-detect browser)",
         on_event(lambda e: e.tampering is True and e.anti_detect_browser is not True)),
    Rule("emulator", REVIEW, "An Android emulator (no root, no Frida)",
         on_event(lambda e: e.emulator is True and e.root_apps is not True
                  and e.frida is not True)),
    Rule("virtual_machine", REVIEW, "A virtual machine (developer tools closed)",
         on_event(lambda e: e.virtual_machine is True and e.developer_tools is not True)),
    Rule("instrumented_app", REVIEW, "Frida hooks, a cloned app or location spoofing",
         on_event(lambda e: e.emulator is not True
            and (e.frida is True or e.cloned_app is True or e.location_spoofing is True))),
    Rule("tor", REVIEW, "The request came from a Tor exit node", on_event(lambda e: e.tor is True)),
    Rule("suspect_score", REVIEW, "Suspect score at or above RISK_SUSPECT_SCORE_REVIEW",
         lambda ctx, cfg: ctx.event.suspect_score is not None
         and ctx.event.suspect_score >= cfg.suspect_score_review),
    # Device Reputation Network (Android)
    Rule("drn_new_device", REVIEW,
         "DRN first saw the device under RISK_DRN_NEW_DEVICE_MINUTES ago",
         lambda ctx, cfg: ctx.drn is not None and _drn_new_device(ctx, cfg)),
    Rule("drn_location_masked", REVIEW,
         "DRN: the device's real country never shows in its IPs",
         lambda ctx, cfg: ctx.drn is not None and cfg.drn_location_masked_review
         and ctx.drn.location_masked is True),
    Rule("drn_high_percentile", REVIEW,
         "DRN max suspect percentile >= RISK_DRN_PERCENTILE_REVIEW",
         lambda ctx, cfg: ctx.drn is not None and _drn_high_percentile(ctx, cfg)),
)  # fmt: skip
REASONS: dict[str, Rule] = {rule.code: rule for rule in RULES}
# Codes earlier versions recorded; kept so old attempts still read well in the console.
RETIRED_REASONS = {
    "vpn": "The visitor used a VPN (no longer a reason on its own: privacy is not fraud)",
}
# Every check, in the order it runs; the admin shows them in this order.
CHECKS = tuple(dict.fromkeys(rule.check for rule in RULES if rule.check))


def describe(code: str) -> str:
    rule = REASONS.get(code)
    return rule.description if rule else RETIRED_REASONS.get(code, "")


@dataclass
class Assessment:
    decision: Decision
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)


def decide(reason_codes: list[str], *, cfg: RiskSettings | None = None) -> Decision:
    """The strictest outcome among the reasons. Under FINGERPRINT_FAILURE_POLICY=deny an
    unverifiable signup is refused instead of accepted unverified."""
    outcomes = {REASONS[code].outcome for code in reason_codes if code in REASONS}
    if UNVERIFIED in outcomes and cfg is not None and cfg.failure_policy == "deny":
        outcomes.add(DENY)
    return next((outcome for outcome in STRICTNESS if outcome in outcomes), ALLOW)


def evaluate_signup(
    ctx: SignupContext, cfg: RiskSettings, *, rules: tuple[Rule, ...] = RULES
) -> Assessment:
    """Run every applicable rule; the reasons that fired, in table order, and the checks."""
    checks = {name: SKIPPED for name in CHECKS}
    reasons: list[str] = []
    no_event = ctx.event is None or bool(ctx.fetch_failure)
    for rule in rules:
        if rule.without_event != no_event or (rule.volume and ctx.allowlist_entry):
            continue
        verdict = rule.predicate(ctx, cfg)
        if rule.check and verdict is not None and checks[rule.check] != FAILED:
            checks[rule.check] = FAILED if verdict else PASSED
        if verdict:
            reasons.append(rule.code)
    if not no_event:
        checks["event_found"] = PASSED
    return Assessment(decide(reasons, cfg=cfg), reasons, checks)


_EVENT_ONLY = tuple(r for r in RULES if not r.needs_history and not r.without_event)


def refused_by_event(event: Event, *, now: datetime, cfg: RiskSettings) -> bool:
    """True when the event alone already denies the signup (whatever the device's history),
    so the caller can skip work such as a DRN lookup."""
    ctx = SignupContext(event=event, now=now)
    return any(r.outcome == DENY and r.predicate(ctx, cfg) for r in _EVENT_ONLY)


_LOCK_FREE = frozenset(
    r.code for r in RULES if r.outcome == DENY and (r.lock_free or r in _EVENT_ONLY)
)


def refused_without_lock(assessment: Assessment) -> bool:
    """True when the assessment of a plain read (no device lock) already proves a denial: an
    event-only denial, or device facts that only grow (blocked, past the hard limit) fired.
    Under the lock the same rules would fire, so refusing early changes no decision."""
    return any(code in _LOCK_FREE for code in assessment.reasons)


# The checks that bind the event to this request: it exists, identifies a device, was not
# used, replayed or made long ago, on another site or from another client IP. Confidence is
# Fingerprint's certainty about the device, not about the request, so it is not among them.
BINDING_CHECKS = frozenset(CHECKS) - {"confidence"}


def event_bound(assessment: Assessment) -> bool:
    """True when no binding check failed: only then does the signup count toward its device
    (throttle, account limit, history), so a stolen event id replayed from elsewhere cannot
    lock its owner out."""
    return not any(assessment.checks.get(name) == FAILED for name in BINDING_CHECKS)


def is_temporary(reason_codes: list[str]) -> bool:
    """A refusal that is not the client's fault (the API answers 503 with Retry-After): a
    temporary reason fired and no lasting deny reason did."""
    fired = [REASONS[code] for code in reason_codes if code in REASONS]
    lasting = any(rule.outcome == DENY and not rule.temporary for rule in fired)
    return not lasting and any(rule.temporary for rule in fired)
