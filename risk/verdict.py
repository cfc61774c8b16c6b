"""Risk's public entry for a signup: two calls, whatever the host's signup flow.

    from risk.verdict import signup_verdict, signup_account_record

    verdict = signup_verdict(request, event_id=event_id, username=username, email=email)
    if verdict.denied:
        ...  # refuse; verdict.retry_after set: not the client's fault (answer 503)
    else:
        user = create_user(..., is_active=verdict.account_active)
        signup_account_record(verdict, account=user)

`signup_verdict` checks the client's network against the signup throttle, fetches the event
(or opens the sealed result), decides, and records the attempt with its evidence. It raises
`SignupThrottledError` (answer 429 with Retry-After) and nothing else for bad input: a missing or
malformed event id is a denied verdict, recorded, that cost no call to Fingerprint.

An allowed verdict means an active account; held for review (`review`) and accepted while
Fingerprint was unavailable (`unverified`) mean an inactive one, which a reviewer or the
verification activates later. When the host cannot create the account, it calls
`signup_account_failed`, so that the device gets its slot back and the client's retry is
decided again; if it never manages to (its database is down), a retry with the same event id
and username from the same client is answered with the same verdict.

The reference project's API (accounts/), the django-allauth form and the DRF serializer mixin
(risk/integrations/) are built on these calls; docs/integration.md shows a plain Django form.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.db import transaction

from risk import rules
from risk.client_ip import request_client_ip
from risk.models import SignupAttempt
from risk.observability import SignupTiming, signup_decision_record
from risk.services import signup as signup_service
from risk.signals import signup_decided
from risk.throttles import SignupThrottledError, signup_network_throttle

__all__ = [
    "SignupThrottledError",
    "Verdict",
    "event_id_valid",
    "signup_account_failed",
    "signup_account_record",
    "signup_verdict",
]

logger = logging.getLogger(__name__)
_EVENT_ID = re.compile(signup_service.EVENT_ID_PATTERN)
# How long a client should wait before retrying a signup refused for a temporary reason.
RETRY_AFTER_S = 5


def event_id_valid(event_id: str) -> bool:
    """Is this the shape of a Fingerprint event id (v4 `event_id`, v3 `requestId`)?"""
    return bool(_EVENT_ID.match(event_id or ""))


@dataclass(frozen=True)
class Verdict:
    """What risk decided about one signup."""

    outcome: str  # allow | review | deny | unverified (risk.rules.Decision)
    reference: str  # opaque, for the user to quote to support; staff search it in the console
    attempt_id: int
    # Set on a refusal that is not the client's fault (Fingerprint unreachable under
    # FINGERPRINT_FAILURE_POLICY=deny): seconds to wait before trying again.
    retry_after: int | None = None
    # The attempt as recorded, so that recording the account needs no read of it.
    attempt: SignupAttempt | None = field(default=None, repr=False, compare=False)

    @property
    def denied(self) -> bool:
        return self.outcome == rules.DENY

    @property
    def account_active(self) -> bool:
        """The account is to be active now (only when allowed)."""
        return self.outcome == rules.ALLOW

    @property
    def held(self) -> bool:
        """Created inactive: waiting for a reviewer (`review`) or for verification."""
        return self.outcome in (rules.REVIEW, rules.UNVERIFIED)

    @classmethod
    def of(cls, attempt: SignupAttempt) -> Verdict:
        temporary = attempt.decision == rules.DENY and rules.is_temporary(attempt.reasons)
        return cls(
            outcome=str(attempt.decision),
            reference=attempt.reference,
            attempt_id=attempt.pk,
            retry_after=RETRY_AFTER_S if temporary else None,
            attempt=attempt,
        )


def signup_verdict(
    request,
    *,
    event_id: str,
    username: str = "",
    email: str = "",
    sealed_result: str = "",
    endpoint: str = "signup",
) -> Verdict:
    """Decide on a signup and record it (see the module doc). `request` is the Django (or DRF)
    request of the signup: its client IP (RISK_TRUSTED_PROXY_COUNT) and Origin are checked
    against the event's. Call it outside any transaction: it calls Fingerprint."""
    signup_network_throttle(request)
    client_ip = request_client_ip(request)
    signup = signup_service.SignupRequest(
        event_id=(event_id or "").strip(),
        username=username or "",
        email=email or "",
        client_ip=client_ip,
        origin=request.headers.get("Origin", ""),
        endpoint=endpoint,
        sealed_result=sealed_result or "",
    )
    valid = event_id_valid(signup.event_id)
    claim = signup_service.event_claim_read(signup.event_id) if valid else None
    earlier = signup_service.signup_retry_of(request=signup, claim=claim)
    if earlier is not None:
        logger.info("signup %s: a retry of attempt %s, same verdict", earlier.reference, earlier.pk)
        return Verdict.of(earlier)
    timing = SignupTiming()
    if valid:
        with timing.upstream():
            fetched = signup_service.event_fetch(
                event_id=signup.event_id, sealed_result=signup.sealed_result
            )
    else:
        fetched = signup_service.FetchResult(
            event=None, failure="not_found", error="not a Fingerprint event id (not looked up)"
        )
    attempt = signup_service.signup_decide(
        request=signup, fetched=fetched, timing=timing, claim=claim
    )
    signup_decision_record(attempt=attempt, upstream_ms=timing.upstream_ms, db_ms=timing.db_ms)
    if attempt.decision == rules.DENY:
        _decided(attempt, account=None)
    return Verdict.of(attempt)


def signup_account_record(verdict: Verdict, *, account) -> None:
    """Record the account the host created for an allowed, held or unverified verdict. An
    account created active for a held or unverified verdict is made inactive."""
    if verdict.denied:
        raise ValueError(f"signup {verdict.reference} was denied: it has no account to record")
    attempt = verdict.attempt or SignupAttempt.objects.get(pk=verdict.attempt_id)
    if not signup_service.attempt_account_link(attempt=attempt, account=account):
        raise ValueError(f"signup {verdict.reference} has its account already, or was denied")
    _decided(attempt, account=account)


def signup_account_failed(verdict: Verdict, *, reason: str = "account_failed") -> None:
    """The host could not create the account: `username_taken` (a concurrent signup took the
    name) or `account_failed` (anything else). The attempt is denied with that reason, the
    device gets its slot back, and the client's retry is decided again."""
    if reason not in ("username_taken", "account_failed"):
        raise ValueError("reason must be 'username_taken' or 'account_failed'")
    attempt = SignupAttempt.objects.get(pk=verdict.attempt_id)
    if signup_service.attempt_account_failed(attempt=attempt, reason=reason):
        signup_decision_record(attempt=attempt, upstream_ms=0.0, db_ms=0.0)
        _decided(attempt, account=None)


def _decided(attempt: SignupAttempt, *, account) -> None:
    """risk.signals.signup_decided for host code, once the writes commit."""
    transaction.on_commit(
        lambda: signup_decided.send(SignupAttempt, attempt=attempt, account=account)
    )
