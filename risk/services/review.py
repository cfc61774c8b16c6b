"""Reviewers' decisions and claims: the one write path of the review console.

Every decision is one append-only `ReviewDecision` row plus its effect, written in one short
transaction with the attempt and device rows locked (`select_for_update`), so two reviewers
deciding on the same item at once queue instead of interleaving their effects; the second one
then finds the attempt no longer pending and is refused (`not_pending`).

Effects:
  approve        activate the attempt's (held) account; attempt -> approved. Refused for a
                 blocked device and for a device at RISK_MAX_ACCOUNTS_PER_DEVICE_HARD accounts:
                 trusting the device is the explicit way to approve those.
  reject         deactivate the attempt's account; attempt -> rejected
  block_device   device.status = blocked (the rules deny its future signups), and a cascade:
                 each pending attempt of the device is rejected (`block_reject` row) and each
                 active account deactivated (`block_deactivate` row)
  unblock_device device.status = normal, and the cascade of the blocks since the last unblock
                 undone exactly: each item is restored to what its row recorded, unless it
                 changed since (`unblock_restore` row per restored item)
  trust_device   device.status = trusted (no per-device account limit); with a pending
                 attempt, the attempt is approved and its account activated as well

What the decision means for the events involved is told to Fingerprint (their suspect flag)
after it commits: risk.services.feedback.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from risk import selectors
from risk.conf import risk_settings
from risk.models import (
    Decision,
    Device,
    DeviceStatus,
    ReviewAction,
    ReviewDecision,
    ReviewEmail,
    ReviewStatus,
    SignupAttempt,
)
from risk.services.feedback import suspect_feedback_owed
from risk.signals import review_decided

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
    ReviewAction.UNBLOCK_DEVICE: {
        "blocked_by_mistake": "Blocked by mistake",
        "appeal_upheld": "Owner's appeal upheld",
    },
}
ATTEMPT_ACTIONS = (ReviewAction.APPROVE, ReviewAction.REJECT)
DEVICE_ACTIONS = (ReviewAction.BLOCK_DEVICE, ReviewAction.TRUST_DEVICE)
# Offered on a blocked device instead of "block" (see device_actions()).
UNBLOCK_ACTIONS = (ReviewAction.UNBLOCK_DEVICE, ReviewAction.TRUST_DEVICE)
MAX_NOTE_LENGTH = 2000
DECIDED = (ReviewStatus.APPROVED, ReviewStatus.REJECTED)


class ReviewError(Exception):
    """A decision that cannot be recorded; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def device_actions(*, device: Device | None) -> tuple[str, ...]:
    """The device decisions that make sense for the device as it is now."""
    if device is None:
        return ()
    return UNBLOCK_ACTIONS if device.status == DeviceStatus.BLOCKED else DEVICE_ACTIONS


# The one-click buttons: the reason each records unless the reviewer picks another.
QUICK_ACTIONS = (
    ReviewAction.APPROVE,
    ReviewAction.REJECT,
    ReviewAction.BLOCK_DEVICE,
    ReviewAction.TRUST_DEVICE,
)


def review_default_reason(*, action: str, attempt: SignupAttempt | None = None) -> str:
    """A sensible reason for a one-click decision, from what fired on the attempt."""
    reasons = set(getattr(attempt, "reasons", None) or ())
    if action == ReviewAction.APPROVE:
        return "legitimate_user"
    if action == ReviewAction.REJECT:
        if reasons & {"bot_bad", "bot_good"}:
            return "bot"
        if reasons & {"device_limit", "device_blocked"}:
            return "multi_accounting"
        return "fake_identity"
    if action == ReviewAction.BLOCK_DEVICE:
        return "tampering" if "tampering" in reasons else "account_farm"
    if action == ReviewAction.TRUST_DEVICE:
        return "shared_device"
    if action == ReviewAction.UNBLOCK_DEVICE:
        return "blocked_by_mistake"
    return ""


def claim_minutes() -> int:
    return risk_settings().claim_minutes


# --- claims ---------------------------------------------------------------------------------


def claim_holder(attempt: SignupAttempt, *, now=None):
    """The user id holding a live claim on the attempt, or None."""
    now = now or timezone.now()
    if attempt.claimed_by_id and attempt.claimed_until and attempt.claimed_until > now:
        return attempt.claimed_by_id
    return None


def attempt_claim(*, actor, attempt: SignupAttempt) -> SignupAttempt:
    """Take a pending attempt for `REVIEW_CLAIM_MINUTES` (renewing one's own claim). One
    conditional UPDATE, so two reviewers racing for the same item cannot both win.
    Raises ReviewError("not_pending" | "claimed_by_other")."""
    if actor is None or not actor.has_perm(RECORD_PERMISSION):
        raise ReviewError("forbidden", "You may not record review decisions.")
    now = timezone.now()
    until = now + timedelta(minutes=claim_minutes())
    # A reviewer holds one item at a time: opening the next one gives back the previous.
    SignupAttempt.objects.filter(claimed_by=actor).exclude(pk=attempt.pk).update(
        claimed_by=None, claimed_until=None
    )
    taken = SignupAttempt.objects.filter(
        selectors.claimable_by_q(user=actor, now=now),
        pk=attempt.pk,
        review_status=ReviewStatus.PENDING,
    ).update(claimed_by=actor, claimed_until=until)
    current = SignupAttempt.objects.select_related("claimed_by").get(pk=attempt.pk)
    attempt.claimed_by_id, attempt.claimed_until = current.claimed_by_id, current.claimed_until
    attempt.review_status = current.review_status
    if taken:
        return attempt
    if current.review_status != ReviewStatus.PENDING:
        raise ReviewError("not_pending", _not_pending_message(current))
    raise ReviewError("claimed_by_other", _claimed_message(current))


def attempt_release(*, actor, attempt: SignupAttempt) -> None:
    """Give back one's own claim (a no-op when someone else holds it)."""
    SignupAttempt.objects.filter(pk=attempt.pk, claimed_by=actor).update(
        claimed_by=None, claimed_until=None
    )


def _claimed_message(attempt: SignupAttempt) -> str:
    holder = attempt.claimed_by.get_username() if attempt.claimed_by else "another reviewer"
    until = timezone.localtime(attempt.claimed_until).strftime("%H:%M")
    return f"{holder} is reviewing this attempt (claimed until {until})."


def _not_pending_message(attempt: SignupAttempt) -> str:
    if attempt.review_status in DECIDED:
        last = (
            ReviewDecision.objects.filter(attempt=attempt)
            .select_related("actor")
            .order_by("-created_at", "-pk")
            .first()
        )
        who = f" by {last.actor.get_username()}" if last and last.actor else ""
        return f"This attempt was already {attempt.review_status}{who}; nothing was changed."
    return "This attempt is not waiting for a review; nothing was changed."


# --- decisions ------------------------------------------------------------------------------


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
    if action not in ATTEMPT_ACTIONS and attempt is None and device is None:
        raise ReviewError("missing_device", f"{action} needs a device or an attempt.")


def _users():
    return get_user_model().objects


def _check_attempt(*, actor, action: str, attempt: SignupAttempt, device: Device | None) -> None:
    """Refusals that depend on the locked attempt's current state."""
    if attempt.decision == Decision.UNVERIFIED:
        raise ReviewError(
            "unverified",
            "Fingerprint has not confirmed this signup's event yet; it is decided "
            "automatically once verified (manage.py verify_signups).",
        )
    if action in ATTEMPT_ACTIONS and attempt.review_status in DECIDED:
        raise ReviewError("not_pending", _not_pending_message(attempt))
    holder = claim_holder(attempt)
    if holder is not None and holder != actor.pk:
        raise ReviewError("claimed_by_other", _claimed_message(attempt))
    if action == ReviewAction.APPROVE:
        if not attempt.account_id:
            raise ReviewError("no_account", "This attempt created no account (it was denied).")
        if attempt.review_status != ReviewStatus.PENDING:
            raise ReviewError("not_pending", _not_pending_message(attempt))
        if device is not None and device.status == DeviceStatus.BLOCKED:
            raise ReviewError(
                "device_blocked", "The device is blocked: unblock or trust it to approve."
            )
        hard = risk_settings().max_accounts_per_device_hard
        if (
            device is not None
            and device.status != DeviceStatus.TRUSTED
            and device.account_count - 1 >= hard  # the other accounts; this one is counted
        ):
            raise ReviewError(
                "device_at_limit",
                f"The device already has {device.account_count - 1} other account(s), the hard"
                f" limit is {hard}: trust the device to approve.",
            )


def _decide_attempt(attempt: SignupAttempt, status: str) -> dict:
    """Set the attempt's review status and its account's activity; returns what it was."""
    previous = {"review_status": attempt.review_status}
    if attempt.account_id:
        was_active = _users().filter(pk=attempt.account_id).values_list("is_active", flat=True)
        previous["is_active"] = bool(was_active.first())
        _users().filter(pk=attempt.account_id).update(is_active=status == ReviewStatus.APPROVED)
    attempt.review_status = status
    attempt.claimed_by_id = attempt.claimed_until = None
    attempt.save(update_fields=["review_status", "claimed_by", "claimed_until"])
    return previous


def _block_cascade(*, decision: ReviewDecision, device: Device) -> list[ReviewDecision]:
    """Reject the device's pending attempts and deactivate its active accounts, one audit row
    each (rows locked in id order; the caller holds the device lock)."""
    rows = []
    pending = SignupAttempt.objects.select_for_update().filter(
        device=device, review_status=ReviewStatus.PENDING
    )
    for attempt in pending.order_by("pk"):
        previous = _decide_attempt(attempt, ReviewStatus.REJECTED)
        rows.append(_effect(decision, ReviewAction.BLOCK_REJECT, previous, attempt=attempt))
    on_device = SignupAttempt.objects.filter(device=device, account__isnull=False)
    accounts = (
        _users()
        .select_for_update()
        .filter(pk__in=on_device.values("account_id"), is_active=True)
        .order_by("pk")
    )
    for account in accounts:
        _users().filter(pk=account.pk).update(is_active=False)
        attempt = SignupAttempt.objects.filter(account=account).first()
        rows.append(
            _effect(
                decision,
                ReviewAction.BLOCK_DEACTIVATE,
                {"is_active": True, "account_id": account.pk},
                attempt=attempt,
            )
        )
    return rows


def _unblock_cascade(*, decision: ReviewDecision, device: Device) -> list[ReviewDecision]:
    """Undo the device's blocks since its last unblock: only the items they changed, only
    where they are still as the block left them (a later decision wins over the reversal)."""
    last_unblock = (
        ReviewDecision.objects.filter(
            device=device, action=ReviewAction.UNBLOCK_DEVICE, parent__isnull=True
        )
        .exclude(pk=decision.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    effects = ReviewDecision.objects.filter(
        parent__device=device,
        parent__action=ReviewAction.BLOCK_DEVICE,
        parent__pk__gt=last_unblock or 0,
    ).select_related("attempt")
    rows = []
    for effect in effects.order_by("pk"):
        if effect.attempt_id and _changed_since(effect, decision=decision):
            continue  # decided again since, or erased: the later decision wins
        if effect.action == ReviewAction.BLOCK_REJECT and effect.attempt_id:
            attempt = SignupAttempt.objects.select_for_update().get(pk=effect.attempt_id)
            if attempt.review_status != ReviewStatus.REJECTED:
                continue  # decided again since: leave it
            if _latest_attempt_decision(attempt, before=decision.pk) != effect.pk:
                continue
            attempt.review_status = effect.previous.get("review_status", ReviewStatus.PENDING)
            attempt.save(update_fields=["review_status"])
            restored = {"review_status": ReviewStatus.REJECTED}
            if attempt.account_id and "is_active" in effect.previous:
                _users().filter(pk=attempt.account_id).update(
                    is_active=effect.previous["is_active"]
                )
                restored["is_active"] = False
            rows.append(_effect(decision, ReviewAction.UNBLOCK_RESTORE, restored, attempt=attempt))
        elif effect.action == ReviewAction.BLOCK_DEACTIVATE:
            account_id = effect.previous.get("account_id")
            changed = _users().filter(pk=account_id, is_active=False).update(is_active=True)
            if changed:
                rows.append(
                    _effect(
                        decision,
                        ReviewAction.UNBLOCK_RESTORE,
                        {"is_active": False, "account_id": account_id},
                        attempt=effect.attempt,
                    )
                )
    return rows


def _changed_since(effect: ReviewDecision, *, decision: ReviewDecision) -> bool:
    """Did anything decide the effect's attempt after the block did (a reviewer's reject, a
    verification), or was its person erased?"""
    if SignupAttempt.objects.filter(pk=effect.attempt_id, erased_at__isnull=False).exists():
        return True
    return (
        ReviewDecision.objects.filter(attempt_id=effect.attempt_id, pk__gt=effect.pk)
        .exclude(pk=decision.pk)
        .exclude(parent__action=ReviewAction.BLOCK_DEVICE)
        .exists()
    )


def _latest_attempt_decision(attempt: SignupAttempt, *, before: int) -> int | None:
    return (
        ReviewDecision.objects.filter(attempt=attempt, pk__lt=before)
        .exclude(action=ReviewAction.BLOCK_DEACTIVATE)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _effect(parent: ReviewDecision, action: str, previous: dict, *, attempt) -> ReviewDecision:
    return ReviewDecision.objects.create(
        actor=parent.actor,
        attempt=attempt,
        device=parent.device,
        action=action,
        reason=parent.reason,
        parent=parent,
        previous=previous,
    )


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
        # Lock the device first, then the attempt: a block's cascade locks the device's other
        # attempts after the device, so every path takes the two in the same order and two
        # decisions on one device wait for each other instead of deadlocking.
        device_id = device.pk if device is not None else None
        if device_id is None and attempt is not None:
            device_id = (
                SignupAttempt.objects.filter(pk=attempt.pk)
                .values_list("device_id", flat=True)
                .first()
            )
        if action not in ATTEMPT_ACTIONS and device_id is None:
            raise ReviewError("no_device", "This attempt has no identified device.")
        locked_device = (
            Device.objects.select_for_update().get(pk=device_id) if device_id is not None else None
        )
        locked_attempt = None
        if attempt is not None:
            locked_attempt = (
                SignupAttempt.objects.select_for_update(of=("self",))
                .select_related("claimed_by")
                .get(pk=attempt.pk)
            )
            if device is None and locked_attempt.device_id != device_id:
                # Verification linked it to a device between the two reads.
                raise ReviewError("changed", "The attempt changed meanwhile; try again.")
        if locked_attempt is not None:
            _check_attempt(actor=actor, action=action, attempt=locked_attempt, device=locked_device)
        if action == ReviewAction.UNBLOCK_DEVICE and locked_device.status != DeviceStatus.BLOCKED:
            raise ReviewError("not_blocked", "The device is not blocked.")
        if action == ReviewAction.BLOCK_DEVICE and locked_device.status == DeviceStatus.BLOCKED:
            raise ReviewError("already_blocked", "The device is already blocked.")

        previous: dict = {}
        attempt_row = locked_attempt
        if action in (ReviewAction.APPROVE, ReviewAction.REJECT):
            status = (
                ReviewStatus.APPROVED if action == ReviewAction.APPROVE else (ReviewStatus.REJECTED)
            )
            previous = _decide_attempt(locked_attempt, status)
        elif action in (ReviewAction.TRUST_DEVICE, ReviewAction.UNBLOCK_DEVICE):
            previous = {"device_status": locked_device.status}
            locked_device.status = (
                DeviceStatus.TRUSTED if action == ReviewAction.TRUST_DEVICE else DeviceStatus.NORMAL
            )
            if (
                action == ReviewAction.TRUST_DEVICE
                and locked_attempt is not None
                and locked_attempt.review_status == ReviewStatus.PENDING
            ):
                previous.update(_decide_attempt(locked_attempt, ReviewStatus.APPROVED))
        elif action == ReviewAction.BLOCK_DEVICE:
            previous = {"device_status": locked_device.status}
            locked_device.status = DeviceStatus.BLOCKED
        if locked_device is not None and action not in ATTEMPT_ACTIONS:
            locked_device.save(update_fields=["status"])

        decision = ReviewDecision.objects.create(
            actor=actor,
            attempt=attempt_row,
            device=locked_device if action not in ATTEMPT_ACTIONS else None,
            action=action,
            reason=reason,
            note=note,
            previous=previous,
        )
        effects: list[ReviewDecision] = []
        if action == ReviewAction.BLOCK_DEVICE:
            effects = _block_cascade(decision=decision, device=locked_device)
        elif action == ReviewAction.UNBLOCK_DEVICE:
            effects = _unblock_cascade(decision=decision, device=locked_device)
        _emails_owed(rows=[decision, *effects])
        suspect_feedback_owed(decision=decision)

        if attempt is not None:
            attempt.review_status = locked_attempt.review_status
            attempt.claimed_by_id, attempt.claimed_until = None, None
        if device is not None and locked_device is not None:
            device.status = locked_device.status
        transaction.on_commit(
            lambda: review_decided.send(
                sender=ReviewDecision, decision=decision, effects=tuple(effects)
            )
        )
        return decision


def _emails_owed(*, rows: list[ReviewDecision]) -> None:
    """The emails these rows owe, written with them: one per held account a row settled."""
    if not risk_settings().notify_users:
        return
    emails = []
    for row in rows:
        attempt = row.attempt
        settled = attempt is not None and row.previous.get("review_status") == ReviewStatus.PENDING
        if settled and attempt.account_id and attempt.review_status in DECIDED:
            emails.append(
                ReviewEmail(decision=row, attempt=attempt, review_status=attempt.review_status)
            )
    ReviewEmail.objects.bulk_create(emails)


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
