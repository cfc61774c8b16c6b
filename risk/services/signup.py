"""The signup decision: the write path behind risk's public entry (risk/verdict.py).

The evidence is gathered outside any transaction: the event (fetched from the Server API, or
unsealed locally) and, for Android, the Device Reputation Network answer within its budget.
Then one short transaction records the attempt:

* an event that failed a server-side check that binds it to this request (forged, reused,
  replayed, stale, another site, another client IP) is recorded without its device: it counts
  toward nothing of the device's (throttle, limit, history), so that replaying a victim's
  event id from elsewhere cannot lock the victim's device out;
* a refusal that a plain read already proves (an event-only denial, a blocked device, a device
  past its hard limit) is recorded without holding the device lock;
* otherwise the device row is locked (`select_for_update`) while the rules read its history
  and decide, and the attempt (claiming its event) and the snapshot are written.

The writes are plain ORM inserts and updates, the same on SQLite and PostgreSQL: rows the plain
read did not find (the device, the snapshot) are inserted without a savepoint. Unique
constraints are the last line of defence: a transaction that loses a race (another signup
created the device, stored the snapshot or claimed the event first) rolls back and runs once
more, reading what the winner wrote; a lost claim is decided again with the event reused. The
locking policy is in docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from risk import rules
from risk.client_ip import clean_ip, network_key
from risk.clients import fingerprint_client
from risk.conf import risk_settings
from risk.device_gate import device_gate
from risk.email_domains import disposable_domain, email_domain
from risk.fingerprint.errors import (
    UNAVAILABLE,
    AuthError,
    FingerprintError,
    RateLimitedError,
    fetch_failure,
)
from risk.fingerprint.events import ANDROID, Event
from risk.fingerprint.sealed import SealedResultError, unseal_event
from risk.models import Device, DeviceStatus, FingerprintEvent, ReviewStatus, SignupAttempt
from risk.observability import SignupTiming
from risk.services.allowlist import allowlist_match
from risk.services.devices import device_for_signup, device_of_visitor
from risk.services.drn import drn_signup_lookup, drn_snapshot_link
from risk.services.snapshots import event_snapshot_store
from risk.storable import storable_text
from risk.throttles import signup_device_throttle

logger = logging.getLogger(__name__)

# Fingerprint's ids: `<epoch ms>.<random>` (v4 event_id and v3 requestId, e.g.
# 1708102555327.NLOjmg) and the 20-character form of the vendor's v3 webhook example. Anything
# else is refused before an upstream call: a made-up id must not cost Server API quota.
EVENT_ID_PATTERN = r"^(?:[0-9]{10,16}\.[A-Za-z0-9]{4,16}|[A-Za-z0-9]{20})$"


@dataclass(frozen=True)
class SignupRequest:
    """What the host's signup contributes: the event id and what its request says."""

    event_id: str
    username: str = ""
    email: str = ""
    client_ip: str = ""
    origin: str = ""
    endpoint: str = "signup"
    sealed_result: str = ""


@dataclass(frozen=True)
class FetchResult:
    event: Event | None
    failure: str = ""  # "" | "not_found" | "unavailable"
    error: str = ""  # short description for staff (never contains the key)


def event_fetch(*, event_id: str, sealed_result: str = "") -> FetchResult:
    """Ask Fingerprint for the event (or open the client's sealed result, which saves the
    round trip when FINGERPRINT_SEALED_KEYS is set). Never raises for Fingerprint's failures."""
    keys = risk_settings().sealed_keys
    if sealed_result and keys:
        return _event_unseal(event_id=event_id, sealed_result=sealed_result, keys=keys)
    try:
        # No 429 retry here: each retry spends quota that is already gone (see security.md).
        return FetchResult(event=fingerprint_client().get_event(event_id, retry_rate_limited=False))
    except FingerprintError as exc:
        failure = fetch_failure(exc)
        error = str(exc)
        if isinstance(exc, AuthError):
            logger.error("Fingerprint rejected our credentials or region: %s", exc)
        elif isinstance(exc, RateLimitedError):
            # Our own key's quota (or our client-side limit) is spent: an outage we cause, and
            # maybe a flood of made-up ids. Said apart so alerts tell it from Fingerprint down.
            logger.error(
                "Fingerprint quota exhausted (our key is rate limited) for event %s: %s",
                event_id,
                exc,
                extra={"fingerprint_error_kind": "quota_exhausted"},
            )
            error = f"quota: {exc}"
        elif failure == UNAVAILABLE:
            logger.warning("Fingerprint unavailable for event %s: %s", event_id, exc)
        return FetchResult(event=None, failure=failure, error=error[:255])


def _event_unseal(*, event_id: str, sealed_result: str, keys: tuple[str, ...]) -> FetchResult:
    try:
        event = unseal_event(sealed_result, keys)
    except SealedResultError as exc:
        # Only Fingerprint can seal with our key: a blob we cannot open is forged or corrupt.
        return FetchResult(event=None, failure="not_found", error=f"sealed result: {exc}"[:255])
    if event.event_id != event_id:
        return FetchResult(
            event=None, failure="not_found", error="sealed result is for another event id"
        )
    return FetchResult(event=event)


def signup_decide(
    *,
    request: SignupRequest,
    fetched: FetchResult,
    timing: SignupTiming,
    claim: EventClaim | None = None,
) -> SignupAttempt:
    """Decide on a signup whose event was fetched (`event_fetch`) and record the attempt;
    `claim` is what `event_claim_read` found for its event id before the fetch. Call it outside
    any transaction. Raises risk.throttles.SignupThrottledError when the device is over
    SIGNUP_THROTTLE_VISITOR_RATE (nothing is written then)."""
    cfg = risk_settings()
    event = fetched.event
    ctx = rules.SignupContext(
        event=event,
        now=timezone.now(),
        fetch_failure=fetched.failure,
        client_ip=request.client_ip,
        request_origin=request.origin,
        email_domain=email_domain(request.email),
        allowlist_entry=allowlist_match(
            client_ip=request.client_ip, event=event, email=request.email
        ),
    )
    row = _AttemptRow(request=request, error=fetched.error)
    if event is None or fetched.failure:
        with timing.database():
            return _attempt_without_event(ctx=ctx, cfg=cfg, row=row)
    with timing.database():
        ctx, device = _with_plain_read(ctx, claimed=claim is not None)
        plain = rules.evaluate_signup(ctx, cfg)
        if not rules.event_bound(plain):
            return _attempt_recorded(ctx=ctx, cfg=cfg, row=row, device_use=_UNBOUND)
    if not ctx.allowlist_entry:
        signup_device_throttle(event.visitor_id)
    use = _REFUSED if rules.refused_without_lock(plain) else _LOCKED
    drn = None
    if use == _LOCKED:
        with timing.upstream():
            drn = drn_signup_lookup(event=event)  # Android only, within its budget
        ctx = dataclasses.replace(ctx, drn=drn)
        if device is None and event.platform == ANDROID:
            device = device_of_visitor(event.visitor_id)  # the lookup stores a new one
    # One device's decisions take turns in this process (risk/device_gate.py).
    with device_gate(event.visitor_id), timing.database():
        attempt = _attempt_recorded(ctx=ctx, cfg=cfg, row=row, device_use=use, device=device)
        if drn is not None:
            drn_snapshot_link(snapshot=drn, attempt=attempt)
    return attempt


@dataclass(frozen=True)
class EventClaim:
    """The attempt that claimed an event id (claims are unique): what the retry check reads."""

    attempt_id: int
    username: str
    client_ip: str | None
    decision: str
    has_account: bool
    created_at: datetime


def event_claim_read(event_id: str) -> EventClaim | None:
    """Which attempt claimed this event id, if any: one light read of an indexed column, which
    answers both "is this a retry?" (`signup_retry_of`) and "is the event reused?"."""
    row = (
        SignupAttempt.objects.filter(claimed_event_id=event_id)
        .values_list("pk", "username", "client_ip", "decision", "account_id", "created_at")
        .first()
    )
    if row is None:
        return None
    pk, username, client_ip, decision, account_id, created_at = row
    return EventClaim(pk, username, client_ip, decision, account_id is not None, created_at)


def signup_retry_of(*, request: SignupRequest, claim: EventClaim | None) -> SignupAttempt | None:
    """The attempt this signup repeats, if it is a client's retry after its account could not
    be created (a 503 while the database failed): the same event id (`claim`, read by
    `event_claim_read`) and username, from the same client IP, within RISK_MAX_EVENT_AGE_S,
    decided to get an account that it never got. Its verdict stands: the retry is answered
    with it instead of being refused as a reuse."""
    if claim is None or claim.has_account:
        return None
    since = timezone.now() - timedelta(seconds=risk_settings().max_event_age_s)
    if (
        claim.decision in (rules.ALLOW, rules.REVIEW, rules.UNVERIFIED)
        and clean_ip(claim.client_ip or "") == clean_ip(request.client_ip)
        and claim.created_at >= since
        and claim.username.lower() == request.username.lower()
    ):
        return SignupAttempt.objects.select_related("device").get(pk=claim.attempt_id)
    return None


# --- the plain read -----------------------------------------------------------------------


def _with_plain_read(
    ctx: rules.SignupContext, *, claimed: bool
) -> tuple[rules.SignupContext, Device | None]:
    """The device (None: new) with its status and count, from a plain read (no lock), and
    whether the event has backed an attempt already (`claimed`, read before the fetch). Under
    the lock the device is read again; the claim is settled by the unique insert."""
    ctx = dataclasses.replace(ctx, event_reused=claimed)
    device = device_of_visitor(ctx.event.visitor_id)
    if device is None:
        return ctx, None
    ctx = dataclasses.replace(
        ctx, device_status=device.status, device_accounts=device.account_count
    )
    return ctx, device


def signup_history_read(
    *, ctx: rules.SignupContext, cfg, device: Device | None, exclude_attempt: int | None = None
) -> rules.SignupContext:
    """The device's history the rules need, read under its lock (`device` None: a device not
    stored yet, which has none). Queries run only when a rule could use them: earlier networks
    past the soft limit, the network's other new devices for a brand-new device."""
    event = ctx.event
    accounts = device.account_count if device else 0
    status = device.status if device else DeviceStatus.NORMAL
    same_network = None
    over_soft = status != DeviceStatus.TRUSTED and accounts >= cfg.max_accounts_per_device
    here = ctx.client_ip or event.ip
    if over_soft and here:
        earlier = SignupAttempt.objects.filter(device_id=device.pk).exclude(client_ip=None)
        if exclude_attempt:
            earlier = earlier.exclude(pk=exclude_attempt)
        ips = list(earlier.order_by("-pk").values_list("client_ip", flat=True)[:50])
        if ips:
            same_network = any(rules.same_network(ip, here) for ip in ips)
    devices = {True: 0, False: 0}  # the network's other devices: brand-new, established
    watching = cfg.ip_new_devices_review_1h or cfg.ip_new_devices_deny_1h
    network = network_key(ctx.client_ip)
    if network and watching and not ctx.allowlist_entry and rules.new_to_everyone(ctx, cfg):
        since = ctx.now - timedelta(hours=1)
        others = SignupAttempt.objects.filter(
            client_network=network, created_at__gte=since, device_new__isnull=False
        ).exclude(device__isnull=True)
        if device is not None:
            others = others.exclude(device_id=device.pk)
        others = others.values("device_new").annotate(devices=Count("device_id", distinct=True))
        devices.update({row["device_new"]: row["devices"] for row in others})
    return dataclasses.replace(
        ctx,
        device_status=status,
        device_accounts=accounts,
        same_network=same_network,
        ip_new_devices=devices[True],
        ip_established_devices=devices[False],
    )


def signup_facts(ctx: rules.SignupContext, cfg) -> dict:
    """The history and signals behind a decision, as reviewers and `rescore` read them."""
    event = ctx.event
    facts = {
        "device_accounts": ctx.device_accounts,
        "device_status": ctx.device_status,
        "same_network": ctx.same_network,
        "ip_new_devices": ctx.ip_new_devices,
        "ip_established_devices": ctx.ip_established_devices,
        "farm_signals": rules.farm_signals(ctx, cfg),
        "email_disposable": disposable_domain(ctx.email_domain, cfg),
    }
    if ctx.allowlist_entry:
        facts["allowlist_entry"] = ctx.allowlist_entry
    age = event.device_age if event is not None else None
    if age is not None:
        facts["device_age_s"] = int(age.total_seconds())
    return facts


# --- recording the attempt ------------------------------------------------------------------

# How the attempt uses its device: not at all (its event failed a binding check), without
# the lock (a refusal the plain read proves), or under the lock (the rules read its history).
_UNBOUND, _REFUSED, _LOCKED = "unbound", "refused", "locked"


@dataclass(frozen=True)
class _AttemptRow:
    """What the request contributes to the attempt row."""

    request: SignupRequest
    error: str = ""

    def attempt(self, **fields) -> SignupAttempt:
        request = self.request
        return SignupAttempt(
            username=storable_text(request.username)[:150],
            email=storable_text(request.email)[:254],
            client_ip=request.client_ip or None,
            client_network=network_key(request.client_ip),
            origin=storable_text(request.origin)[:255],
            event_id=storable_text(request.event_id)[:64],
            endpoint=request.endpoint[:32],
            fingerprint_error=storable_text(self.error)[:255],
            **fields,
        )


def _assessment_fields(assessment: rules.Assessment) -> dict:
    return {
        "decision": assessment.decision,
        "reasons": assessment.reasons,
        "checks": assessment.checks,
        "review_status": (
            ReviewStatus.PENDING if assessment.decision == rules.REVIEW else ReviewStatus.NONE
        ),
    }


def _claim_taken(event_id: str) -> bool:
    return SignupAttempt.objects.filter(claimed_event_id=event_id).exists()


def _attempt_without_event(*, ctx: rules.SignupContext, cfg, row: _AttemptRow) -> SignupAttempt:
    """Fingerprint did not answer, or has no such event: no device to count on. An unverified
    signup claims the id it came with, so one made-up id backs one account at most; a plain
    refusal leaves it usable (not the client's fault, or not an event)."""
    assessment = rules.evaluate_signup(ctx, cfg)
    claim = row.request.event_id[:64] if assessment.decision == rules.UNVERIFIED else None
    attempt = row.attempt(claimed_event_id=claim, **_assessment_fields(assessment))
    try:
        with transaction.atomic():
            attempt.save()
    except IntegrityError:
        if claim is None or not _claim_taken(claim):
            raise
        # The id already backs an account accepted unverified: this one is a reuse.
        reasons = [*assessment.reasons, "event_reused"]
        attempt = row.attempt(
            claimed_event_id=None,
            **_assessment_fields(rules.Assessment(rules.decide(reasons, cfg=cfg), reasons)),
        )
        attempt.checks = assessment.checks
        attempt.save()
    return attempt


def _attempt_recorded(
    *,
    ctx: rules.SignupContext,
    cfg,
    row: _AttemptRow,
    device_use: str,
    device: Device | None = None,
) -> SignupAttempt:
    """Record the attempt in one transaction (see the module doc for `device_use`; `device`
    is the plain read's row, None when it found none). A transaction that loses a race runs
    once more with savepoints, reading what the winner wrote; losing the event's claim decides
    again with the event reused: then the attempt counts toward nothing of the device's."""
    careful = False
    while True:
        try:
            with transaction.atomic():
                return _attempt_write(
                    ctx=ctx, cfg=cfg, row=row, device_use=device_use, known=device, careful=careful
                )
        except IntegrityError:
            if not ctx.event_reused and _claim_taken(ctx.event.event_id):
                ctx = dataclasses.replace(ctx, event_reused=True)
                device_use = _UNBOUND
            elif careful:
                raise
            careful = True


def _attempt_write(
    *,
    ctx: rules.SignupContext,
    cfg,
    row: _AttemptRow,
    device_use: str,
    known: Device | None,
    careful: bool,
) -> SignupAttempt:
    event = ctx.event
    device = _device_stored(event=event, device_use=device_use, known=known, careful=careful)
    if device_use == _LOCKED:
        ctx = signup_history_read(ctx=ctx, cfg=cfg, device=device)
    assessment = rules.evaluate_signup(ctx, cfg)
    # An allowed or held attempt reserves its account slot: the device's next signup counts it.
    reserve = int(assessment.decision in (rules.ALLOW, rules.REVIEW))
    counted = False
    if device is None and device_use != _UNBOUND and event.visitor_id:
        # New to us (the plain read found none): stored with this attempt counted. A device
        # created meanwhile by another signup fails the unique insert: the careful run reads it.
        device = Device.objects.create(
            visitor_id=event.visitor_id,
            platform=storable_text(event.platform)[:16],
            attempt_count=1,
            account_count=reserve,
        )
        counted = True
    if ctx.event_reused:
        snapshot = FingerprintEvent.objects.filter(event_id=event.event_id).only("pk").first()
    else:
        snapshot = event_snapshot_store(event=event, device=device, savepoint=careful)
    attempt = row.attempt(
        claimed_event_id=None if ctx.event_reused else event.event_id,
        device=device,
        fingerprint_event=snapshot,
        visitor_id=storable_text(event.visitor_id)[:64],
        device_new=rules.new_to_everyone(ctx, cfg),
        facts=signup_facts(ctx, cfg),
        **_assessment_fields(assessment),
    )
    attempt.save()
    if device is not None and not counted:
        # Last, so that a lock-free refusal holds the row lock of this UPDATE only until the
        # commit right after it.
        Device.objects.filter(pk=device.pk).update(
            attempt_count=F("attempt_count") + 1,
            account_count=F("account_count") + reserve,
            last_seen_at=ctx.now,
        )
        # The same in memory, for the `signup_decided` receivers (exact under the lock).
        device.attempt_count += 1
        device.account_count += reserve
        device.last_seen_at = ctx.now
    return attempt


def _device_stored(
    *, event: Event, device_use: str, known: Device | None, careful: bool
) -> Device | None:
    """The attempt's device row as stored, or None: an attempt that uses no device, or a device
    new to us (inserted by `_attempt_write` with its counts)."""
    if device_use == _UNBOUND or not event.visitor_id:
        return None
    if careful:
        return device_for_signup(
            visitor_id=event.visitor_id, platform=event.platform, lock=device_use == _LOCKED
        )
    if known is None:
        return None
    # A decision reads the row again, locked; a lock-free refusal counts on the plain read's.
    return device_of_visitor(event.visitor_id, lock=True) if device_use == _LOCKED else known


# --- after the decision: the account ----------------------------------------------------------


def attempt_account_link(*, attempt: SignupAttempt, account) -> bool:
    """Link the account the host created for an allowed, held or unverified attempt (its slot
    on the device is already counted). An account for a held or unverified attempt is made
    inactive if the host left it active. False when the attempt was denied or already has an
    account (nothing changed)."""
    unlinked = SignupAttempt.objects.filter(pk=attempt.pk, account__isnull=True).exclude(
        decision=rules.DENY
    )
    if attempt.decision == rules.ALLOW or not account.is_active:
        linked = unlinked.update(account=account)  # one statement: atomic on its own
    else:
        with transaction.atomic():
            linked = unlinked.update(account=account)
            if linked:
                account.is_active = False
                account.save(update_fields=["is_active"])
    if linked:
        attempt.account = account
    return bool(linked)


def attempt_account_failed(*, attempt: SignupAttempt, reason: str = "account_failed") -> bool:
    """The host could not create the account (`username_taken`: the name went to a concurrent
    signup; `account_failed`: a server or database failure): keep the attempt, denied with
    `reason`, give the device its slot back and release the event's claim, so that the
    client's retry with the same event is decided again. Once per attempt: False (and nothing
    changed) when it is already denied or has its account."""
    cfg = risk_settings()
    with transaction.atomic():
        locked = (
            SignupAttempt.objects.select_for_update()
            .filter(pk=attempt.pk, account__isnull=True)
            .exclude(decision=rules.DENY)
            .first()
        )
        if locked is None:
            return False
        if locked.device_id and locked.decision in (rules.ALLOW, rules.REVIEW):
            Device.objects.filter(pk=locked.device_id, account_count__gt=0).update(
                account_count=F("account_count") - 1
            )
        locked.reasons = [*locked.reasons, reason]
        locked.decision = rules.decide(locked.reasons, cfg=cfg)
        locked.review_status = ReviewStatus.NONE
        locked.claimed_event_id = None
        locked.save(update_fields=["reasons", "decision", "review_status", "claimed_event_id"])
    attempt.reasons, attempt.decision = locked.reasons, locked.decision
    attempt.review_status, attempt.claimed_event_id = locked.review_status, None
    return True
