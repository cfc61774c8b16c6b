"""Write paths of the risk app: fetch and assess signup events, store snapshots.

Network I/O (`event_fetch`) always happens outside database transactions; `signup_assess`
runs inside the caller's short transaction and holds the Device row lock until it commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from risk import rules
from risk.client_ip import clean_ip
from risk.clients import fingerprint_client
from risk.conf import risk_settings
from risk.fingerprint.errors import (
    AuthError,
    FingerprintError,
    NotFoundError,
    RequestError,
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
        return FetchResult(event=fingerprint_client().get_event(event_id))
    except (NotFoundError, RequestError) as exc:
        # 400 for an id Fingerprint cannot parse is as forged as a 404.
        return FetchResult(event=None, failure="not_found", error=str(exc)[:255])
    except AuthError as exc:
        logger.error("Fingerprint rejected our credentials or region: %s", exc)
        return FetchResult(event=None, failure="unavailable", error=str(exc)[:255])
    except FingerprintError as exc:
        logger.warning("Fingerprint unavailable for event %s: %s", event_id, exc)
        return FetchResult(event=None, failure="unavailable", error=str(exc)[:255])


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


# One statement creates the device or counts the attempt on it, and returns the row. The
# upsert takes the row lock (PostgreSQL holds it until commit, exactly like SELECT ... FOR
# UPDATE; SQLite's IMMEDIATE transaction already serialises writers). Portable SQL: both
# PostgreSQL and SQLite >= 3.35 support ON CONFLICT ... RETURNING.
_DEVICE_LOCK_SQL = """
INSERT INTO risk_device (visitor_id, platform, status, first_seen_at, last_seen_at,
                         account_count, attempt_count, drn_lookup_pending)
VALUES (%s, %s, %s, %s, %s, 0, 1, %s)
ON CONFLICT (visitor_id) DO UPDATE
   SET last_seen_at = excluded.last_seen_at, attempt_count = risk_device.attempt_count + 1
RETURNING id, visitor_id, status
"""


def device_lock_for_attempt(*, visitor_id: str, platform: str = "") -> Device:
    """Create the device if new, count one attempt on it, and lock its row until the
    transaction ends. Returns a partial Device (id, visitor_id, status)."""
    now = timezone.now()
    params = [visitor_id, platform, DeviceStatus.NORMAL, now, now, False]
    return next(iter(Device.objects.raw(_DEVICE_LOCK_SQL, params)))


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
    """Decide on a signup and record the attempt (and event snapshot).

    Must run inside `transaction.atomic()`: the Device row stays locked until the caller,
    who may create the account, commits. That is what makes the per-device limit race-free.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("signup_assess() must run inside transaction.atomic()")
    cfg = risk_settings()
    event = fetched.event
    device = None
    device_accounts = 0
    reused = False
    if event is not None and event.visitor_id:
        device = device_lock_for_attempt(visitor_id=event.visitor_id, platform=event.platform[:16])
        device_accounts = get_user_model().objects.filter(device=device).count()
    if event is not None:
        reused = SignupAttempt.objects.filter(claimed_event_id=event.event_id).exists()

    assessment = rules.evaluate_signup(
        rules.SignupContext(
            event=event,
            now=timezone.now(),
            fetch_failure=fetched.failure,
            event_reused=reused,
            client_ip=client_ip,
            request_origin=origin,
            device_status=device.status if device else "normal",
            device_accounts=device_accounts,
            drn=drn,
        ),
        cfg,
    )
    snapshot = None
    if event is not None:
        if reused:
            snapshot = FingerprintEvent.objects.filter(event_id=event.event_id).first()
        else:
            snapshot = event_snapshot_store(event=event, device=device)
    # A found event is burnt by its first attempt, whatever the decision; refusals that are
    # not the client's fault (Fingerprint down, unknown id) leave the id usable.
    claim = event.event_id if event is not None and not reused else None
    attempt = SignupAttempt(
        username=username[:150],
        email=email,
        client_ip=client_ip or None,
        origin=origin[:255],
        event_id=event_id[:64],
        claimed_event_id=claim,
        fingerprint_event=snapshot,
        device=device,
        visitor_id=event.visitor_id if event else "",
        decision=assessment.decision,
        reasons=assessment.reasons,
        checks=assessment.checks,
        endpoint=endpoint,
        fingerprint_error=fetched.error,
        review_status=(
            ReviewStatus.PENDING if assessment.decision == rules.REVIEW else ReviewStatus.NONE
        ),
    )
    try:
        with transaction.atomic():  # savepoint: a lost claim race must not abort the caller
            attempt.save()
    except IntegrityError:
        # Another attempt claimed this event between our check and insert (no device lock
        # serialised us, e.g. an event without identification): this one is a reuse.
        attempt.claimed_event_id = None
        attempt.reasons = [*attempt.reasons, "event_reused"]
        attempt.checks = {**attempt.checks, "not_reused": rules.FAILED}
        attempt.decision = rules.DENY
        attempt.review_status = ReviewStatus.NONE
        attempt.save()
    if drn is not None:  # the DRN lookup made for this signup (before the transaction)
        drn_snapshot_link(snapshot=drn, attempt=attempt)
    return attempt


def attempt_attach_account(*, attempt: SignupAttempt, account) -> None:
    """Link the account created for an attempt and bump the device's account counter."""
    attempt.account = account
    attempt.save(update_fields=["account"])
    if attempt.device_id:
        Device.objects.filter(pk=attempt.device_id).update(account_count=F("account_count") + 1)
