"""Tell users when a reviewer approves or rejects their held account (Django's email framework;
templates under templates/risk/email/ can be overridden by the host project)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from risk.models import ReviewDecision, ReviewStatus

log = logging.getLogger(__name__)
TEMPLATES = {ReviewStatus.APPROVED: "account_approved", ReviewStatus.REJECTED: "account_rejected"}


def notify_review_decided(sender, *, decision: ReviewDecision, effects=(), **kwargs) -> None:
    """Receiver of risk.signals.review_decided: one email per held account it decided."""
    if not getattr(settings, "REVIEW_NOTIFY_USERS", True):
        return
    for row in (decision, *effects):
        attempt = row.attempt
        if attempt is None or row.previous.get("review_status") != ReviewStatus.PENDING:
            continue  # only accounts that were held, and only the decision that settled them
        template = TEMPLATES.get(attempt.review_status)
        account = attempt.account
        if template is None or account is None or not account.email:
            continue
        context = {"account": account, "attempt": attempt}
        subject = render_to_string(f"risk/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"risk/email/{template}.txt", context)
        try:
            send_mail(subject, body, None, [account.email])
        except Exception:  # a mail server outage must not turn a recorded decision into a 500
            log.exception("review email to account %s failed", account.pk)
