"""A stored history whose backtest answers are known: attempts with real v4 snapshots built by
the sandbox's event builder, the decisions the rules gave them, and reviewers' labels."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.utils import timezone

from risk import rules
from risk.conf import risk_settings
from risk.models import Device, FingerprintEvent, ReviewStatus, SignupAttempt
from risk.services.rescore import attempt_context_rebuild
from sandbox.factory import build_event
from sandbox.profiles import History, new_visitor_id

_numbers = itertools.count(1)


def stored_attempt(
    *,
    score: int = 0,
    profile: str = "human",
    review_status: str = ReviewStatus.NONE,
    device_status: str = "normal",
    device_accounts: int = 0,
    created_at: datetime | None = None,
    raw: bool = True,
) -> SignupAttempt:
    """One stored signup attempt of its own device, from its own home address: the snapshot
    has suspect score `score`; the decision is what the rules in force give it (as the signup
    recorded it); `raw=False` leaves a purged snapshot behind (retention)."""
    n = next(_numbers)
    when = created_at or timezone.now() - timedelta(hours=2)
    ms = int(when.timestamp() * 1000)
    visitor = new_visitor_id()
    ip = f"73.46.{n // 250}.{n % 250 + 1}"
    event = build_event(
        profile,
        visitor_id=visitor,
        timestamp=ms,
        ip=ip,
        # Known to Fingerprint for a month: not a brand-new device.
        history=History(first_seen_at=ms - 30 * 86_400_000, last_seen_at=ms - 86_400_000),
    )
    event["suspect_score"] = score
    device = Device.objects.create(visitor_id=visitor, platform="js", status=device_status)
    snapshot = FingerprintEvent.objects.create(
        event_id=event["event_id"],
        device=device,
        visitor_id=visitor,
        timestamp=when,
        ip=ip,
        suspect_score=score,
        raw=event if raw else {},
    )
    attempt = SignupAttempt(
        username=f"stored{n}",
        email=f"stored{n}@example.com",
        client_ip=ip,
        client_network=ip,
        event_id=event["event_id"],
        claimed_event_id=event["event_id"],
        fingerprint_event=snapshot,
        device=device,
        visitor_id=visitor,
        decision=rules.ALLOW,
        facts={"device_accounts": device_accounts, "same_network": None, "ip_new_devices": 0},
        device_new=False,
        review_status=review_status,
    )
    attempt.created_at = when
    snapshot.raw = event  # decided on the snapshot it had then
    assessment = rules.evaluate_signup(
        attempt_context_rebuild(attempt=attempt, accounts_before=0), risk_settings()
    )
    snapshot.raw = event if raw else {}
    attempt.decision, attempt.reasons = assessment.decision, assessment.reasons
    attempt.save()
    SignupAttempt.objects.filter(pk=attempt.pk).update(created_at=when)  # auto_now_add
    attempt.refresh_from_db()
    return attempt


def known_history() -> dict[str, list[SignupAttempt]]:
    """Scores 5, 12 and 25 with RISK_SUSPECT_SCORE_REVIEW at 10: 5 is allowed, 12 and 25 held.
    Raising the threshold to 20 moves exactly the four 12s from review to allow.

    Labels: two 12s approved and a 25 approved (people), a 12 rejected (fraud), a 25 on a
    device blocked since (fraud: denied by the block, on either side). One attempt's snapshot
    was purged (skipped) and one is older than 30 days (outside the window)."""
    return {
        "clean": [stored_attempt(score=5) for _ in range(3)],
        "approved12": [stored_attempt(score=12, review_status="approved") for _ in range(2)],
        "rejected12": [stored_attempt(score=12, review_status="rejected")],
        "unlabelled12": [stored_attempt(score=12, review_status="pending")],
        "approved25": [stored_attempt(score=25, review_status="approved")],
        "blocked25": [stored_attempt(score=25, device_status="blocked")],
        "purged": [stored_attempt(score=12, raw=False)],
        "old": [stored_attempt(score=12, created_at=timezone.now() - timedelta(days=40))],
    }
