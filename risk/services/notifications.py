"""Tell users when a reviewer approves or rejects their held account (Django's email framework;
templates under templates/risk/email/ can be overridden by the host project).

With a Celery broker the email leaves from a worker (`risk.tasks.review_email_task`), retried
while the mail server is down or slow, so a reviewer's decision never waits on it. Without
one (development, the demo) it is sent in the request, and a failure is logged.
"""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.template.loader import render_to_string

from risk.background import enqueue
from risk.conf import risk_settings
from risk.models import ReviewDecision, ReviewStatus, SignupAttempt

log = logging.getLogger(__name__)
TEMPLATES = {ReviewStatus.APPROVED: "account_approved", ReviewStatus.REJECTED: "account_rejected"}


def notify_review_decided(sender, *, decision: ReviewDecision, effects=(), **kwargs) -> None:
    """Receiver of risk.signals.review_decided (after the commit): one email per held account
    it decided."""
    if not risk_settings().notify_users:
        return
    for row in (decision, *effects):
        attempt = row.attempt
        if attempt is None or row.previous.get("review_status") != ReviewStatus.PENDING:
            continue  # only accounts that were held, and only the decision that settled them
        if attempt.review_status not in TEMPLATES or attempt.account_id is None:
            continue
        # No worker (no broker, or it is down): send it from here instead of losing it.
        if not enqueue("risk.tasks.review_email_task", attempt.pk, attempt.review_status):
            _send_now(attempt)


def _send_now(attempt: SignupAttempt) -> None:
    try:
        review_email_send(attempt_id=attempt.pk, review_status=attempt.review_status)
    except Exception:  # a mail server outage must not turn a recorded decision into a 500
        log.exception("review email for attempt %s failed", attempt.pk)


def review_email_send(*, attempt_id: int, review_status: str) -> str:
    """Send the email for the decision that settled the attempt: "sent", or why not. Raises
    what the mail backend raises (the task retries on it)."""
    attempt = SignupAttempt.objects.select_related("account").filter(pk=attempt_id).first()
    if attempt is None or attempt.review_status != review_status:
        return "stale"  # erased, or decided again since (that decision says what it says)
    account = attempt.account
    if account is None or not account.email:
        return "no_address"
    template = TEMPLATES[review_status]
    context = {"account": account, "attempt": attempt}
    subject = render_to_string(f"risk/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"risk/email/{template}.txt", context)
    send_mail(subject, body, None, [account.email])
    return "sent"
