"""Verify later: decide the signups accepted while Fingerprint was unavailable.

An unverified attempt (decision `unverified`) has an inactive account, no device and no
snapshot, and is not in the review queue. Verification fetches its event and runs exactly the
live signup's rules under the device lock, judged at the moment of the signup (freshness, the
request's IP and Origin as recorded). Then:

* event not found: denied, the account stays inactive (rejected automatically);
* the rules deny (device past its limit, a bot...): denied, the account stays inactive and is
  not counted on the device, so a stolen event id cannot raise its owner's account count;
* the rules allow: the account is activated; review: it joins the review queue.

Every outcome writes an audit row (`ReviewDecision`, action `verify`, no actor). Runs from
`backfill_events`, `manage.py verify_signups` and (with a broker) a periodic task.
"""

from __future__ import annotations

import logging
from collections import Counter

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from risk import rules
from risk.conf import risk_settings
from risk.models import (
    Device,
    FingerprintEvent,
    ReviewAction,
    ReviewDecision,
    ReviewStatus,
    SignupAttempt,
)
from risk.services.devices import device_for_signup
from risk.services.drn import drn_signup_lookup, drn_snapshot_link
from risk.services.jobs import item_guard
from risk.services.signup import event_fetch, signup_facts, signup_history_read
from risk.services.snapshots import event_snapshot_store
from risk.signals import signup_decided
from risk.storable import storable_text

logger = logging.getLogger(__name__)

NOT_FOUND, UNAVAILABLE, SKIPPED = "not_found", "unavailable", "skipped"


def attempt_verify(*, attempt_id: int) -> str:
    """Verify one unverified attempt. Returns the new decision (`allow`, `review`, `deny`),
    `not_found`, `unavailable` (Fingerprint still down: try again later) or `skipped` (not
    unverified any more, e.g. another worker got there first)."""
    attempt = SignupAttempt.objects.filter(pk=attempt_id, decision=rules.UNVERIFIED).first()
    if attempt is None:
        return SKIPPED
    fetched = event_fetch(event_id=attempt.event_id)  # network: before any transaction
    if fetched.failure == "unavailable":
        return UNAVAILABLE
    drn = drn_signup_lookup(event=fetched.event)
    cfg = risk_settings()
    with transaction.atomic():
        attempt = (
            SignupAttempt.objects.select_for_update()
            .filter(pk=attempt_id, decision=rules.UNVERIFIED)
            .first()
        )
        if attempt is None:
            return SKIPPED
        if fetched.event is None or fetched.failure:
            outcome = _verified_not_found(attempt=attempt, cfg=cfg, error=fetched.error)
            transaction.on_commit(lambda: _decided(attempt))
            return outcome
        outcome = _verified_with_event(attempt=attempt, event=fetched.event, cfg=cfg, drn=drn)
    if drn is not None:
        drn_snapshot_link(snapshot=drn, attempt=attempt)
    _decided(attempt)
    return outcome


def _verified_not_found(*, attempt: SignupAttempt, cfg, error: str) -> str:
    ctx = rules.SignupContext(event=None, now=attempt.created_at, fetch_failure="not_found")
    assessment = rules.evaluate_signup(ctx, cfg)
    attempt.decision = assessment.decision
    attempt.reasons = assessment.reasons
    attempt.checks = assessment.checks
    attempt.review_status = ReviewStatus.REJECTED
    attempt.fingerprint_error = error[:255]
    attempt.save(
        update_fields=["decision", "reasons", "checks", "review_status", "fingerprint_error"]
    )
    _audit(attempt=attempt, device=None, reason="event_not_found")
    return NOT_FOUND


def _verified_with_event(*, attempt: SignupAttempt, event, cfg, drn) -> str:
    reused = (
        SignupAttempt.objects.filter(claimed_event_id=event.event_id)
        .exclude(pk=attempt.pk)
        .exists()
    )
    ctx = rules.SignupContext(
        event=event,
        now=attempt.created_at,  # judged as at the signup: freshness, not today's age
        client_ip=attempt.client_ip or "",
        request_origin=attempt.origin,
        drn=drn,
        event_reused=reused,
    )
    # As on the live path: an event that failed a binding check counts toward nothing of its
    # device's, and an event without identification has no device at all.
    device = None
    if event.visitor_id and rules.event_bound(rules.evaluate_signup(ctx, cfg)):
        device = device_for_signup(visitor_id=event.visitor_id, platform=event.platform, lock=True)
        ctx = signup_history_read(ctx=ctx, cfg=cfg, device=device, exclude_attempt=attempt.pk)
    assessment = rules.evaluate_signup(ctx, cfg)
    if reused:
        snapshot = FingerprintEvent.objects.filter(event_id=event.event_id).first()
    else:
        snapshot = event_snapshot_store(event=event, device=device)
    decision = assessment.decision
    attempt.decision = decision
    attempt.reasons = assessment.reasons
    attempt.checks = assessment.checks
    attempt.facts = signup_facts(ctx, cfg)
    attempt.device = device
    attempt.visitor_id = storable_text(event.visitor_id)[:64]
    attempt.device_new = rules.new_to_everyone(ctx, cfg)
    attempt.fingerprint_event = snapshot
    attempt.fingerprint_error = ""
    attempt.review_status = {
        rules.REVIEW: ReviewStatus.PENDING,
        rules.DENY: ReviewStatus.REJECTED,
    }.get(decision, ReviewStatus.NONE)
    if reused:
        attempt.claimed_event_id = None  # the claim belongs to the attempt that used it first
    attempt.save()
    counted = attempt.account_id is not None and decision in (rules.ALLOW, rules.REVIEW)
    if attempt.account_id and decision in (rules.ALLOW, rules.REVIEW):
        get_user_model().objects.filter(pk=attempt.account_id).update(
            is_active=decision == rules.ALLOW
        )
    if device is not None:
        Device.objects.filter(pk=device.pk).update(
            attempt_count=F("attempt_count") + 1,
            account_count=F("account_count") + int(counted),
            last_seen_at=timezone.now(),
        )
    _audit(attempt=attempt, device=device, reason=f"verified_{decision}")
    return decision


def _decided(attempt: SignupAttempt) -> None:
    """risk.signals.signup_decided: the signup has its final decision now."""
    account = get_user_model().objects.filter(pk=attempt.account_id).first()
    signup_decided.send(SignupAttempt, attempt=attempt, account=account)


def _audit(*, attempt: SignupAttempt, device: Device | None, reason: str) -> None:
    ReviewDecision.objects.create(
        actor=None, attempt=attempt, device=device, action=ReviewAction.VERIFY, reason=reason
    )


def attempts_verify_due(*, limit: int = 100) -> dict[str, int]:
    """Verify up to `limit` unverified attempts, oldest first. Stops at the first
    `unavailable`: Fingerprint is still down, the next run tries again. Returns the counts
    of each outcome."""
    counts: Counter[str] = Counter()
    ids = SignupAttempt.objects.filter(decision=rules.UNVERIFIED).order_by("pk")
    for attempt_id in ids.values_list("pk", flat=True)[:limit]:
        outcome = SKIPPED
        with item_guard(counts, what="verifying attempt", item=attempt_id):
            outcome = attempt_verify(attempt_id=attempt_id)
            counts[outcome] += 1
        if outcome == UNAVAILABLE:
            logger.info("verification paused: Fingerprint is still unavailable")
            break
    return dict(counts)


def unverified_count() -> int:
    return SignupAttempt.objects.filter(decision=rules.UNVERIFIED).count()
