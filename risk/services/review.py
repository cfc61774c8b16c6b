"""Reviewers' decisions: the one write path of the review console.

Every decision is one append-only `ReviewDecision` row plus its effect, written in one short
transaction with the attempt and device rows locked (`select_for_update`), so two reviewers
deciding on the same item at once queue instead of interleaving their effects.

Effects:
  approve        activate the attempt's (held) account; attempt -> approved
  reject         deactivate the attempt's account; attempt -> rejected
  block_device   device.status = blocked (the rules deny its future signups); with an attempt,
                 the attempt is rejected and its account deactivated as well
  trust_device   device.status = trusted (no per-device account limit); with a pending
                 attempt, the attempt is approved and its account activated as well
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from risk.models import (
    Decision,
    Device,
    DeviceStatus,
    ReviewAction,
    ReviewDecision,
    ReviewStatus,
    SignupAttempt,
)

RECORD_PERMISSION = "risk.record_decision"

# The fixed reason codes a reviewer picks from, per action (code -> label).
REASON_CODES: dict[str, dict[str, str]] = {
    ReviewAction.APPROVE: {
        "legitimate_user": "Legitimate user (signals explained)",
        "shared_device": "Shared family or office device",
        "vpn_legitimate": "Legitimate VPN / corporate network",
        "false_positive": "False positive of a rule",
        "verified_out_of_band": "Verified out of band (email, support)",
    },
    ReviewAction.REJECT: {
        "multi_accounting": "Duplicate account on one device",
        "bot": "Automated signup (bot)",
        "fake_identity": "Fake or disposable identity",
        "fraud_ring": "Part of a fraud ring / account farm",
        "abuse": "Promotion or referral abuse",
    },
    ReviewAction.BLOCK_DEVICE: {
        "account_farm": "Account farm / emulator device",
        "bot": "Automated signups from this device",
        "repeat_abuse": "Repeated abuse from this device",
        "tampering": "Tampered or anti-detect browser",
    },
    ReviewAction.TRUST_DEVICE: {
        "shared_device": "Shared family device",
        "office_device": "Office or kiosk device",
        "test_device": "Internal test device",
        "verified_owner": "Owner verified out of band",
    },
}
ATTEMPT_ACTIONS = (ReviewAction.APPROVE, ReviewAction.REJECT)
DEVICE_ACTIONS = (ReviewAction.BLOCK_DEVICE, ReviewAction.TRUST_DEVICE)
MAX_NOTE_LENGTH = 2000


class ReviewError(Exception):
    """A decision that cannot be recorded; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def review_reason_choices(*, action: str) -> list[tuple[str, str]]:
    return list(REASON_CODES.get(action, {}).items())


def _validate(*, actor, action: str, reason: str, note: str, attempt, device) -> None:
    if actor is None or not actor.has_perm(RECORD_PERMISSION):
        raise ReviewError("forbidden", "You may not record review decisions.")
    if action not in REASON_CODES:
        raise ReviewError("invalid_action", f"Unknown action {action!r}.")
    if reason not in REASON_CODES[action]:
        raise ReviewError("invalid_reason", f"Reason {reason!r} is not valid for {action}.")
    if len(note) > MAX_NOTE_LENGTH:
        raise ReviewError("note_too_long", f"The note is longer than {MAX_NOTE_LENGTH} characters.")
    if action in ATTEMPT_ACTIONS and attempt is None:
        raise ReviewError("missing_attempt", f"{action} needs a signup attempt.")
    if action in DEVICE_ACTIONS and attempt is None and device is None:
        raise ReviewError("missing_device", f"{action} needs a device or an attempt.")


def _set_account_active(attempt: SignupAttempt, active: bool) -> None:
    if attempt.account_id:
        get_user_model().objects.filter(pk=attempt.account_id).update(is_active=active)


def review_decide(
    *,
    actor,
    action: str,
    reason: str,
    note: str = "",
    attempt: SignupAttempt | None = None,
    device: Device | None = None,
) -> ReviewDecision:
    """Record one reviewer decision and apply its effect, atomically. Raises ReviewError."""
    note = (note or "").strip()
    _validate(actor=actor, action=action, reason=reason, note=note, attempt=attempt, device=device)
    with transaction.atomic():
        # Lock in a fixed order (attempt, then device) so concurrent decisions cannot deadlock.
        locked_attempt = None
        if attempt is not None:
            locked_attempt = SignupAttempt.objects.select_for_update().get(pk=attempt.pk)
        device_id = device.pk if device is not None else getattr(locked_attempt, "device_id", None)
        locked_device = None
        if action in DEVICE_ACTIONS:
            if device_id is None:
                raise ReviewError("no_device", "This attempt has no identified device.")
            locked_device = Device.objects.select_for_update().get(pk=device_id)

        if locked_attempt is not None and locked_attempt.decision == Decision.UNVERIFIED:
            raise ReviewError(
                "unverified",
                "Fingerprint has not confirmed this signup's event yet; it is decided "
                "automatically once verified (manage.py verify_signups).",
            )
        if action == ReviewAction.APPROVE:
            if not locked_attempt.account_id:
                raise ReviewError("no_account", "This attempt created no account (it was denied).")
            _set_account_active(locked_attempt, True)
            locked_attempt.review_status = ReviewStatus.APPROVED
        elif action == ReviewAction.REJECT:
            _set_account_active(locked_attempt, False)
            locked_attempt.review_status = ReviewStatus.REJECTED
        elif action == ReviewAction.BLOCK_DEVICE:
            locked_device.status = DeviceStatus.BLOCKED
            if locked_attempt is not None:
                _set_account_active(locked_attempt, False)
                locked_attempt.review_status = ReviewStatus.REJECTED
        elif action == ReviewAction.TRUST_DEVICE:
            locked_device.status = DeviceStatus.TRUSTED
            if locked_attempt is not None and locked_attempt.review_status == ReviewStatus.PENDING:
                _set_account_active(locked_attempt, True)
                locked_attempt.review_status = ReviewStatus.APPROVED

        if locked_device is not None:
            locked_device.save(update_fields=["status"])
        if locked_attempt is not None:
            locked_attempt.save(update_fields=["review_status"])
            if attempt is not None:
                attempt.review_status = locked_attempt.review_status
        if device is not None and locked_device is not None:
            device.status = locked_device.status
        return ReviewDecision.objects.create(
            actor=actor,
            attempt=locked_attempt,
            device=locked_device,
            action=action,
            reason=reason,
            note=note,
        )


def review_decide_bulk(
    *, actor, action: str, reason: str, note: str = "", attempts: list[SignupAttempt]
) -> tuple[int, dict[str, int]]:
    """Apply one decision to many attempts, each in its own transaction (one bad row does not
    undo the others). Returns (decided, {error code: count})."""
    decided, errors = 0, {}
    for attempt in attempts:
        try:
            review_decide(actor=actor, action=action, reason=reason, note=note, attempt=attempt)
            decided += 1
        except ReviewError as exc:
            if exc.code in ("forbidden", "invalid_action", "invalid_reason", "note_too_long"):
                raise  # the same for every row: report once
            errors[exc.code] = errors.get(exc.code, 0) + 1
    return decided, errors
