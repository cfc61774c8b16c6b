"""Write paths of the risk app: fetch and assess signup events, store snapshots.

Network I/O (`event_fetch`) always happens outside database transactions. `signup_assess`
owns its short transactions: refusals a plain read proves take no device lock; everything else
holds the Device row lock only while the rules read the history and the evidence is written.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from risk import rules
from risk.client_ip import clean_ip
from risk.clients import fingerprint_client
from risk.conf import risk_settings
from risk.fingerprint.errors import (
    UNAVAILABLE,
    AuthError,
    FingerprintError,
    RateLimitedError,
    fetch_failure,
)
from risk.fingerprint.events import Event
from risk.fingerprint.sealed import SealedResultError, unseal_event
from risk.models import (
    Device,
    DeviceStatus,
    DrnSnapshot,
    FingerprintEvent,
    ReviewStatus,
    SignupAttempt,
)
from risk.services import evidence
from risk.services.drn import drn_snapshot_link

logger = logging.getLogger(__name__)


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


def device_lock_for_attempt(*, visitor_id: str, platform: str = "") -> Device:
    """Create the device if new, count one attempt on it, and lock its row until the
    transaction ends (outside a transaction: for this one statement only). Returns a partial
    Device (id, visitor_id, status, account_count)."""
    params = evidence.device_upsert_params(
        visitor_id=visitor_id, platform=platform, now=timezone.now()
    )
    return next(iter(Device.objects.raw(evidence.DEVICE_UPSERT_SQL, params)))


def event_snapshot_store(*, event: Event, device: Device | None) -> FingerprintEvent:
    """Insert or refresh the stored snapshot of an event (idempotent by event_id)."""
    fields = event_snapshot_fields(event, device=device)
    # One upsert statement instead of update_or_create's SELECT FOR UPDATE + INSERT/UPDATE.
    (snapshot,) = FingerprintEvent.objects.bulk_create(
        [FingerprintEvent(event_id=event.event_id, **fields)],
        update_conflicts=True,
        unique_fields=["event_id"],
        update_fields=list(fields),
    )
    return snapshot


def event_snapshot_fields(event: Event, *, device: Device | None) -> dict:
    return {
        "api_version": event.api_version,
        "device": device,
        "visitor_id": event.visitor_id,
        "timestamp": event.timestamp,
        "ip": clean_ip(event.ip) or None,  # inet column: never store garbage
        "url": event.url,
        "platform": event.platform[:16],
        "confidence": event.confidence,
        "bot": event.bot[:32],
        "bot_type": event.bot_type[:64],
        "suspect_score": _int32(event.suspect_score),
        "vpn": event.vpn,
        "proxy": event.proxy,
        "tampering": event.tampering,
        "incognito": event.incognito,
        "tor": event.tor,
        "replayed": event.replayed,
        "country_code": event.country_code[:8],
        "asn_name": event.asn_name[:255],
        "raw": event.raw,
    }


def _int32(value: int | None) -> int | None:
    """The database column is a 32-bit integer; an absurd value is kept only in `raw`."""
    return value if value is None or -(2**31) <= value < 2**31 else None


def signup_assess(
    *,
    event_id: str,
    fetched: FetchResult,
    username: str,
    email: str,
    client_ip: str,
    origin: str,
    endpoint: str,
    drn: DrnSnapshot | None = None,
) -> SignupAttempt:
    """Decide on a signup and record the attempt with its event snapshot, in short
    transactions of its own (call it outside any transaction: see docs/architecture.md).

    A refusal that a plain read already proves (`rules.refused_without_lock`) takes no device
    lock. Otherwise the device row is locked for the decision and the evidence writes only.
    An allowed, held or unverified attempt reserves its account slot on the device; the
    caller then creates the account (hashing outside any lock) and calls
    `attempt_attach_account`, or `attempt_account_failed` if the username went meanwhile.
    """
    cfg = risk_settings()
    event = fetched.event
    ctx = rules.SignupContext(
        event=event,
        now=timezone.now(),
        fetch_failure=fetched.failure,
        client_ip=client_ip,
        request_origin=origin,
        drn=drn,
    )
    row = _AttemptRow(
        event_id=event_id,
        username=username,
        email=email,
        client_ip=client_ip,
        origin=origin,
        endpoint=endpoint,
        error=fetched.error,
    )
    if event is None or fetched.failure:
        attempt = _attempt_without_event(ctx=ctx, cfg=cfg, row=row)
    else:
        # Refused without the lock when a plain read proves it: the event alone (a bot
        # flood), a reused event, a blocked device or one past its limit.
        ctx = _with_plain_read(ctx)
        assessment = rules.evaluate_signup(ctx, cfg)
        if rules.refused_without_lock(assessment):
            attempt = _attempt_refused_without_lock(
                ctx=ctx, cfg=cfg, row=row, assessment=assessment
            )
        else:
            attempt = _attempt_decided_under_lock(ctx=ctx, cfg=cfg, row=row)
    if drn is not None:  # the DRN lookup made for this signup (before the transaction)
        drn_snapshot_link(snapshot=drn, attempt=attempt)
    return attempt


# One round trip, before any lock: has the event backed an attempt already, and the device's
# status and account count (none when it is new). Portable SQL.
_PLAIN_READ_SQL = """
SELECT EXISTS (SELECT 1 FROM risk_signupattempt WHERE claimed_event_id = %s),
       device.status, device.account_count
  FROM (SELECT 1 AS one) AS q LEFT JOIN risk_device AS device ON device.visitor_id = %s
"""


def _with_plain_read(ctx: rules.SignupContext) -> rules.SignupContext:
    """The event's claim and the device's status and count from a plain read (no lock).
    Under the lock the count is read again; the claim is settled by the unique insert."""
    with connection.cursor() as cursor:
        cursor.execute(_PLAIN_READ_SQL, [ctx.event.event_id, ctx.event.visitor_id])
        reused, status, accounts = cursor.fetchone()
    ctx = dataclasses.replace(ctx, event_reused=bool(reused))
    if status is None:
        return ctx
    return dataclasses.replace(ctx, device_status=status, device_accounts=accounts)


@dataclass(frozen=True)
class _AttemptRow:
    """What the request contributes to the attempt row."""

    event_id: str
    username: str
    email: str
    client_ip: str
    origin: str
    endpoint: str
    error: str = ""

    def attempt(self, **fields) -> SignupAttempt:
        return SignupAttempt(
            username=self.username[:150],
            email=self.email,
            client_ip=self.client_ip or None,
            origin=self.origin[:255],
            event_id=self.event_id[:64],
            endpoint=self.endpoint,
            fingerprint_error=self.error,
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


def _attempt_without_event(*, ctx: rules.SignupContext, cfg, row: _AttemptRow) -> SignupAttempt:
    """Fingerprint did not answer, or has no such event: no device to lock."""
    assessment = rules.evaluate_signup(ctx, cfg)
    # An unverified signup claims the id it came with, so one made-up id backs one account
    # at most; a plain refusal leaves it usable (not the client's fault, or not an event).
    claim = row.event_id[:64] if assessment.decision == rules.UNVERIFIED else None
    attempt = row.attempt(claimed_event_id=claim, **_assessment_fields(assessment))
    with transaction.atomic():
        if not _insert_claiming(attempt):
            reasons = [*assessment.reasons, "event_reused"]
            attempt.claimed_event_id = None
            attempt.reasons = reasons
            attempt.decision = rules.decide(reasons, cfg=cfg)
            attempt.review_status = ReviewStatus.NONE
            attempt.save()
    return attempt


def _attempt_refused_without_lock(
    *, ctx: rules.SignupContext, cfg, row: _AttemptRow, assessment: rules.Assessment
) -> SignupAttempt:
    """A refusal proven by a plain read: evidence written without holding the device lock
    past the statement that counts the attempt on it. On PostgreSQL the device upsert, the
    snapshot and the attempt are one statement (risk.services.evidence)."""
    event = ctx.event
    if event.visitor_id and evidence.single_statement_supported():
        attempt = _attempt_new(ctx=ctx, cfg=cfg, row=row, device=None, assessment=assessment)
        evidence.evidence_write(
            attempt=attempt,
            device_params=evidence.device_upsert_params(
                visitor_id=event.visitor_id, platform=event.platform[:16], now=ctx.now
            ),
            snapshot=None if ctx.event_reused else _snapshot_new(event),
            event_id=event.event_id,
        )
        if attempt.pk is None:  # another attempt claimed the event since the plain read
            _attempt_save_unclaimed(attempt=attempt, ctx=ctx, cfg=cfg)
        return attempt
    device = None
    if event.visitor_id:
        device = device_lock_for_attempt(visitor_id=event.visitor_id, platform=event.platform[:16])
    with transaction.atomic():
        return _attempt_record(ctx=ctx, cfg=cfg, row=row, device=device, assessment=assessment)


def _attempt_decided_under_lock(
    *, ctx: rules.SignupContext, cfg, row: _AttemptRow
) -> SignupAttempt:
    event = ctx.event
    with transaction.atomic():
        device = device_lock_for_attempt(visitor_id=event.visitor_id, platform=event.platform[:16])
        ctx = signup_history_read(ctx=ctx, cfg=cfg, device=device)
        assessment = rules.evaluate_signup(ctx, cfg)
        # An allowed or held attempt reserves its account slot while the lock is held: the
        # next signup of the device counts it.
        reserve = assessment.decision in (rules.ALLOW, rules.REVIEW)
        if evidence.single_statement_supported():
            attempt = _attempt_new(ctx=ctx, cfg=cfg, row=row, device=device, assessment=assessment)
            evidence.evidence_write(
                attempt=attempt,
                device_id=device.pk,
                snapshot=None if ctx.event_reused else _snapshot_new(event),
                event_id=event.event_id,
                reserve_slot=reserve,
            )
            attempt.device = device  # the locked row as the rules saw it
            if attempt.pk is None:  # claimed meanwhile: denied, nothing reserved
                _attempt_save_unclaimed(attempt=attempt, ctx=ctx, cfg=cfg)
            return attempt
        attempt = _attempt_record(ctx=ctx, cfg=cfg, row=row, device=device, assessment=assessment)
        if attempt.decision in (rules.ALLOW, rules.REVIEW):
            Device.objects.filter(pk=device.pk).update(account_count=F("account_count") + 1)
    return attempt


def signup_history_read(
    *, ctx: rules.SignupContext, cfg, device: Device, exclude_attempt: int | None = None
) -> rules.SignupContext:
    """The device's history the rules need, read under its lock. Queries run only when a
    rule could use them: earlier networks past the soft limit, the IP's other new devices
    for a brand-new device."""
    event = ctx.event
    accounts = device.account_count
    same_network = None
    over_soft = device.status != DeviceStatus.TRUSTED and accounts >= cfg.max_accounts_per_device
    here = ctx.client_ip or event.ip
    if over_soft and here:
        earlier = SignupAttempt.objects.filter(device_id=device.pk).exclude(client_ip=None)
        if exclude_attempt:
            earlier = earlier.exclude(pk=exclude_attempt)
        ips = list(earlier.order_by("-pk").values_list("client_ip", flat=True)[:50])
        if ips:
            same_network = any(rules.same_network(ip, here) for ip in ips)
    ip_new_devices = 0
    watching = cfg.ip_new_devices_review_1h or cfg.ip_new_devices_deny_1h
    if ctx.client_ip and watching and rules.new_to_everyone(ctx, cfg):
        since = ctx.now - timedelta(hours=1)
        others = SignupAttempt.objects.filter(
            client_ip=ctx.client_ip, created_at__gte=since, device_new=True
        ).exclude(device_id=device.pk)
        ip_new_devices = others.values("device_id").distinct().count()
    return dataclasses.replace(
        ctx,
        device_status=device.status,
        device_accounts=accounts,
        same_network=same_network,
        ip_new_devices=ip_new_devices,
    )


def _attempt_record(
    *, ctx: rules.SignupContext, cfg, row: _AttemptRow, device: Device | None, assessment
) -> SignupAttempt:
    """Store the snapshot (unless another attempt already did) and the attempt, claiming the
    event. Losing the claim race re-evaluates the rules with the event reused."""
    event = ctx.event
    if ctx.event_reused:
        snapshot = FingerprintEvent.objects.filter(event_id=event.event_id).first()
    else:
        snapshot = event_snapshot_store(event=event, device=device)
    attempt = _attempt_new(ctx=ctx, cfg=cfg, row=row, device=device, assessment=assessment)
    attempt.fingerprint_event = snapshot
    if not _insert_claiming(attempt):
        _attempt_save_unclaimed(attempt=attempt, ctx=ctx, cfg=cfg)
    return attempt


def _snapshot_new(event: Event) -> FingerprintEvent:
    return FingerprintEvent(event_id=event.event_id, **event_snapshot_fields(event, device=None))


def _attempt_new(
    *, ctx: rules.SignupContext, cfg, row: _AttemptRow, device: Device | None, assessment
) -> SignupAttempt:
    """The attempt row (unsaved), claiming the event unless it is known to be reused."""
    event = ctx.event
    return row.attempt(
        claimed_event_id=None if ctx.event_reused else event.event_id,
        device=device,
        visitor_id=event.visitor_id,
        device_new=rules.new_to_everyone(ctx, cfg),
        facts=signup_facts(ctx, cfg),
        **_assessment_fields(assessment),
    )


def _attempt_save_unclaimed(*, attempt: SignupAttempt, ctx: rules.SignupContext, cfg) -> None:
    """Another attempt claimed this event between our read and insert: decide again with the
    event reused, and insert the attempt without the claim."""
    ctx = dataclasses.replace(ctx, event_reused=True)
    again = rules.evaluate_signup(ctx, cfg)
    for name, value in _assessment_fields(again).items():
        setattr(attempt, name, value)
    attempt.claimed_event_id = None
    attempt.facts = signup_facts(ctx, cfg)
    attempt.save()


def _insert_claiming(attempt: SignupAttempt) -> bool:
    """Insert the attempt; False (and nothing written) when its claim is already taken."""
    try:
        with transaction.atomic():  # savepoint: a lost claim race must not abort the caller
            attempt.save()
    except IntegrityError:
        attempt.pk = None
        return False
    return True


def signup_facts(ctx: rules.SignupContext, cfg) -> dict:
    """The history and signals behind a decision, as reviewers and `rescore` read them."""
    event = ctx.event
    facts = {
        "device_accounts": ctx.device_accounts,
        "device_status": ctx.device_status,
        "same_network": ctx.same_network,
        "ip_new_devices": ctx.ip_new_devices,
        "farm_signals": rules.farm_signals(ctx, cfg),
    }
    age = event.device_age if event is not None else None
    if age is not None:
        facts["device_age_s"] = int(age.total_seconds())
    return facts


def attempt_attach_account(*, attempt: SignupAttempt, account) -> None:
    """Link the account created for an attempt (its slot on the device is already counted)."""
    attempt.account = account
    attempt.save(update_fields=["account"])


def attempt_account_failed(*, attempt: SignupAttempt, reason: str = "username_taken") -> bool:
    """The account could not be created (`username_taken`: the name went to a concurrent
    signup; `account_failed`: the server or the database failed): keep the attempt, denied
    with `reason`, and give the device its slot back. Once per attempt: False (and nothing
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
        locked.save(update_fields=["reasons", "decision", "review_status"])
    attempt.reasons, attempt.decision = locked.reasons, locked.decision
    attempt.review_status = locked.review_status
    return True
