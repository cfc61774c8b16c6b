"""Device Reputation Network lookups: fetch, cache per device, store snapshots, queue failures.

DRN only knows Android visitors, so nothing here calls it for any other device. A lookup is a
network call: never run one inside a database transaction (the signup does it between the
event fetch and its transaction). A lookup that fails or runs out of time stores an `error`
snapshot and sets `Device.drn_lookup_pending`, which `manage.py backfill_drn` works through
(`risk.selectors.devices_drn_due`); a later success clears the flag.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from risk import rules
from risk.background import enqueue_after_commit
from risk.clients import drn_client
from risk.conf import risk_settings
from risk.fingerprint.drn import DrnResult
from risk.fingerprint.errors import AuthError, FingerprintError, NotFoundError
from risk.fingerprint.events import ANDROID, Event
from risk.fingerprint.parsing import clamp_int32
from risk.models import Device, DrnSnapshot, DrnStatus, SignupAttempt
from risk.selectors import device_is_android, drn_snapshot_cached
from risk.services.devices import device_ensure_one
from risk.storable import storable_json, storable_text

logger = logging.getLogger(__name__)


def drn_snapshot_fields(result: DrnResult) -> dict:
    raw, replaced = storable_json(result.raw)
    countries, _ = storable_json([country.as_dict() for country in result.countries or ()])
    return {
        "raw": raw,
        "text_replaced": replaced,
        "countries": countries,
        "location_masked": result.location_masked,
        # 32-bit columns: an absurd score is clamped (still "very high" for the rules and the
        # console), never a DataError that would leave backfill_drn retrying the device forever.
        "min_suspect_score": clamp_int32(result.min_score.value if result.min_score else None),
        "max_suspect_score": clamp_int32(result.max_score.value if result.max_score else None),
        "max_percentile": result.max_percentile,
        "first_seen_at": result.first_seen_at,
        "last_seen_at": result.last_seen_at,
    }


def drn_snapshot_link(*, snapshot: DrnSnapshot, attempt: SignupAttempt) -> None:
    """Make `snapshot` the attempt's DRN evidence, unless the attempt already has an answered
    one (what was known at signup time is kept). Records the device's age at the signup on
    a snapshot that has none yet."""
    if snapshot.first_seen_at and snapshot.device_age_at_signup is None and attempt.created_at:
        snapshot.device_age_at_signup = max(
            attempt.created_at - snapshot.first_seen_at, timedelta(0)
        )
        DrnSnapshot.objects.filter(pk=snapshot.pk, device_age_at_signup__isnull=True).update(
            device_age_at_signup=snapshot.device_age_at_signup
        )
    answered = Q(drn_snapshot__status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND))
    if SignupAttempt.objects.filter(pk=attempt.pk).exclude(answered).update(drn_snapshot=snapshot):
        attempt.drn_snapshot = snapshot


def drn_lookup(
    *,
    device: Device,
    attempt: SignupAttempt | None = None,
    budget_s: float | None = None,
    force: bool = False,
) -> DrnSnapshot | None:
    """Look the device up in DRN and store the snapshot; None (and no call) for non-Android
    devices. A snapshot younger than FINGERPRINT_DRN_CACHE_S is reused unless `force`.
    `budget_s` caps the call (rate-limiter wait and retries included; default
    FINGERPRINT_TIMEOUT_S). Failures never raise: they give an `error` snapshot and queue the
    device for the backfill. With `attempt`, the snapshot becomes its evidence (see
    `drn_snapshot_link`). Must not run inside a transaction (it calls the network)."""
    if not device_is_android(device=device):
        return None
    cfg = risk_settings()
    snapshot = None if force else drn_snapshot_cached(device=device, max_age_s=cfg.drn_cache_s)
    if snapshot is None:
        snapshot = _fetch_and_store(device=device, budget_s=budget_s)
    if attempt is not None:
        drn_snapshot_link(snapshot=snapshot, attempt=attempt)
    return snapshot


def _fetch_and_store(*, device: Device, budget_s: float | None) -> DrnSnapshot:
    fields: dict = {}
    try:
        result = drn_client().lookup(device.visitor_id, budget_s=budget_s)
    except NotFoundError as exc:
        # DRN has nothing on the device (yet): an answer, not a failure to retry.
        status, error, pending = DrnStatus.NOT_FOUND, str(exc), False
    except FingerprintError as exc:
        log = logger.error if isinstance(exc, AuthError) else logger.warning
        log("DRN lookup for device %s failed, queued for the backfill: %s", device.pk, exc)
        status, error, pending = DrnStatus.ERROR, str(exc), True
    else:
        status, error, pending = DrnStatus.OK, "", False
        fields = drn_snapshot_fields(result)
    snapshot = DrnSnapshot.objects.create(
        device=device,
        visitor_id=device.visitor_id,
        status=status,
        error=storable_text(error)[:255],
        **fields,
    )
    if device.drn_lookup_pending != pending:
        Device.objects.filter(pk=device.pk).update(drn_lookup_pending=pending)
        device.drn_lookup_pending = pending
    return snapshot


# Seconds a deferred lookup waits in the queue, so that the signup's attempt (written right
# after the lookup was deferred) exists when the worker links the answer to it.
DRN_DEFER_COUNTDOWN_S = 2


def drn_lookup_defer(*, device: Device) -> None:
    """Leave the device's lookup for later (no time for it at signup, or no answer in time):
    the device is flagged as owed, which `backfill_drn` works through, and a Celery worker
    is asked to do it after the current transaction commits (`drn_lookup_owed`). Without a
    broker the flag alone stands: running the lookup inline would make the signup wait past
    its DRN budget, which is why it was deferred."""
    if not device.drn_lookup_pending:
        Device.objects.filter(pk=device.pk).update(drn_lookup_pending=True)
        device.drn_lookup_pending = True
    enqueue_after_commit("risk.tasks.drn_lookup_task", device.pk, countdown=DRN_DEFER_COUNTDOWN_S)


def drn_lookup_owed(*, device_id: int) -> str:
    """The worker's side of `drn_lookup_defer`: look the device up unless that was done
    meanwhile (by the backfill or an earlier delivery of the task) and make the answer the
    evidence of its latest attempt that has none. Returns the snapshot status, or "done"."""
    device = Device.objects.filter(pk=device_id, drn_lookup_pending=True).first()
    if device is None:
        return "done"
    attempt = (
        SignupAttempt.objects.filter(device=device)
        .exclude(drn_snapshot__status__in=(DrnStatus.OK, DrnStatus.NOT_FOUND))
        .order_by("-created_at", "-pk")
        .first()
    )
    snapshot = drn_lookup(device=device, attempt=attempt)
    return snapshot.status if snapshot is not None else "not_android"


def drn_signup_lookup(*, event: Event | None) -> DrnSnapshot | None:
    """The signup-time lookup, between the event fetch and the signup's transaction: Android
    events only, within FINGERPRINT_DRN_SIGNUP_BUDGET_S (0 = always leave it to the backfill).
    Creates the device row if new (idempotent) so the snapshot has a device; the caller
    links the snapshot to the attempt (`drn_snapshot_link`)."""
    if event is None or event.platform != ANDROID or not event.visitor_id:
        return None
    if rules.refused_by_event(event, now=timezone.now(), cfg=risk_settings()):
        return None  # a bot flood must stay cheap to refuse: no DRN call, no limiter wait
    device = device_ensure_one(visitor_id=event.visitor_id, platform=ANDROID)
    budget = risk_settings().drn_signup_budget_s
    if budget <= 0:
        drn_lookup_defer(device=device)
        return None
    snapshot = drn_lookup(device=device, budget_s=budget)
    if snapshot is not None and snapshot.status == DrnStatus.ERROR:
        drn_lookup_defer(device=device)  # no answer in the budget: a worker retries
    return snapshot
