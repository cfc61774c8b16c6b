"""Tell users when a reviewer approves or rejects their held account (Django's email framework;
templates under templates/risk/email/ can be overridden by the host project).

Each decision that settles a held account owes one email, written with the decision
(risk.models.ReviewEmail). With a Celery broker it leaves from a worker
(`risk.tasks.review_email_task`), retried while the mail server is down or slow, so a
reviewer's decision never waits on it; without one (development, the demo) it is sent in the
request, and a failure is logged. Either way a sender first claims the email (due -> sending):
a task delivered twice, or a retry racing a redelivery, sends it at most once.
"""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.template.loader import render_to_string

from risk.background import enqueue
from risk.models import ReviewDecision, ReviewEmail, ReviewEmailStatus, ReviewStatus

log = logging.getLogger(__name__)
TEMPLATES = {ReviewStatus.APPROVED: "account_approved", ReviewStatus.REJECTED: "account_rejected"}


def notify_review_decided(sender, *, decision: ReviewDecision, effects=(), **kwargs) -> None:
    """Receiver of risk.signals.review_decided (after the commit): send the emails the decision
    and its effects owe."""
    rows = [row.pk for row in (decision, *effects)]
    for email_id in ReviewEmail.objects.filter(decision_id__in=rows).values_list("pk", flat=True):
        # No worker (no broker, or it is down): send it from here instead of losing it.
        if not enqueue("risk.tasks.review_email_task", email_id):
            _send_now(email_id)


def _send_now(email_id: int) -> None:
    try:
        review_email_send(email_id=email_id)
    except Exception:  # a mail server outage must not turn a recorded decision into a 500
        log.exception("review email %s failed", email_id)
        review_email_give_up(email_id=email_id, status=ReviewEmailStatus.FAILED)


def review_email_send(*, email_id: int) -> str:
    """Claim the email and send it: "sent", or why not ("already", "stale", "no_address").
    Raises what the mail backend raises, with the email due again (the task retries it)."""
    claimed = ReviewEmail.objects.filter(pk=email_id, status=ReviewEmailStatus.DUE).update(
        status=ReviewEmailStatus.SENDING
    )
    if not claimed:
        return "already"  # sent, being sent, or given up: never twice
    email = ReviewEmail.objects.select_related("attempt__account").get(pk=email_id)
    attempt, account = email.attempt, email.attempt.account
    address = getattr(account, account.get_email_field_name(), "") if account else ""
    if attempt.review_status != email.review_status or not address:
        # Decided again since (that decision says what it says), erased, or no address.
        reason = "stale" if attempt.review_status != email.review_status else "no_address"
        review_email_give_up(email_id=email_id, status=ReviewEmailStatus.SKIPPED)
        return reason
    template = TEMPLATES[email.review_status]
    context = {"account": account, "attempt": attempt}
    subject = render_to_string(f"risk/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"risk/email/{template}.txt", context)
    try:
        send_mail(subject, body, None, [address])
    except Exception:
        ReviewEmail.objects.filter(pk=email_id).update(status=ReviewEmailStatus.DUE)
        raise
    ReviewEmail.objects.filter(pk=email_id).update(status=ReviewEmailStatus.SENT)
    return "sent"


def review_email_give_up(*, email_id: int, status: str) -> None:
    ReviewEmail.objects.filter(pk=email_id).update(status=status)
