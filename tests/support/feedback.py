"""Reviewers' decisions and the suspect feedback they owe Fingerprint, sent without a broker."""

from risk.models import SuspectReport
from risk.services import feedback
from risk.services.review import review_decide


def decide(reviewer, action: str, *, attempt=None, device=None):
    """`action` with a reason that fits it."""
    reason = {
        "approve": "legitimate_user",
        "reject": "fake_identity",
        "block_device": "account_farm",
        "unblock_device": "blocked_by_mistake",
        "trust_device": "shared_device",
    }[action]
    return review_decide(
        actor=reviewer, action=action, reason=reason, attempt=attempt, device=device
    )


def event_of(attempt) -> str:
    return attempt.fingerprint_event.event_id


def send_owed() -> dict:
    """`manage.py send_suspect_feedback`, the way without a broker."""
    return dict(feedback.suspect_feedback_send_owed())


def report_of(attempt) -> SuspectReport:
    return SuspectReport.objects.get(event=attempt.fingerprint_event)
