"""Write paths of the accounts app: the signup flow and account creation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, transaction

from risk import rules
from risk import services as risk_services
from risk.device_gate import device_gate
from risk.models import SignupAttempt
from risk.observability import SignupTiming, signup_decision_record
from risk.services.drn import drn_signup_lookup
from risk.signals import signup_decided
from risk.throttles import VisitorThrottledError, signup_visitor_throttle

logger = logging.getLogger(__name__)


class UsernameTakenError(Exception):
    """Another signup took the username while we were checking (the database said so)."""


@dataclass(frozen=True)
class SignupResult:
    attempt: SignupAttempt
    account: object | None  # the created user, or None when denied


def account_create(*, username: str, password: str, email: str, attempt: SignupAttempt):
    """Create the account an allowed (active) or held (inactive) attempt reserved, and link
    it to the attempt, in one transaction: never an account without its attempt. The only
    place a signup hashes a password, before the transaction, so no lock (the device row,
    SQLite's write lock) waits on Argon2."""
    user = get_user_model()(
        username=username,
        email=email,
        device=attempt.device,
        signup_event_id=attempt.event_id,
        is_active=attempt.decision == rules.ALLOW,
    )
    user.set_password(password)
    with transaction.atomic():
        user.save()
        risk_services.attempt_attach_account(attempt=attempt, account=user)
    return user


def account_signup(
    *,
    username: str,
    password: str,
    email: str,
    event_id: str,
    client_ip: str,
    origin: str,
    endpoint: str = "signup",
    sealed_result: str = "",
) -> SignupResult:
    """Check the device with Fingerprint, record the attempt, create the account if allowed.

    Denied attempts never reach `account_create`, so a bot flood costs no password hashing.
    Accounts held for review, or accepted unverified while Fingerprint was down, are created
    inactive. The attempt is kept whatever happens to the account: a username taken by a
    concurrent signup leaves it denied with `username_taken`, any other failure to create it
    with `account_failed` (and the error goes on up); either way the device gets its slot back.
    """
    timing = SignupTiming()
    with timing.upstream():
        fetched = risk_services.event_fetch(event_id=event_id, sealed_result=sealed_result)
    # Per-device throttle: as soon as the visitor id is known, before DRN and any write.
    if fetched.event is not None and (wait := signup_visitor_throttle(fetched.event.visitor_id)):
        raise VisitorThrottledError(wait)
    # Android only, bounded by FINGERPRINT_DRN_SIGNUP_BUDGET_S, never raises; network, so
    # before any transaction.
    with timing.upstream():
        drn = drn_signup_lookup(event=fetched.event)
    # One device's decisions take turns in this process: a flood of one device cannot take
    # the GIL and the cores from everyone else (SIGNUP_DEVICE_CONCURRENCY, risk/device_gate.py).
    with device_gate(fetched.event and fetched.event.visitor_id), timing.database():
        attempt = risk_services.signup_assess(
            event_id=event_id,
            fetched=fetched,
            drn=drn,
            username=username,
            email=email,
            client_ip=client_ip,
            origin=origin,
            endpoint=endpoint,
        )
    account = None
    if attempt.decision != rules.DENY:
        try:
            account = account_create(
                username=username, password=password, email=email, attempt=attempt
            )
        except Exception as exc:
            taken = isinstance(exc, IntegrityError) and "username" in str(exc).lower()
            reason = "username_taken" if taken else "account_failed"
            if _account_not_created(attempt, reason=reason):
                _signup_decided(attempt, None, timing)
            if taken:
                raise UsernameTakenError(username) from exc
            raise
    _signup_decided(attempt, account, timing)
    return SignupResult(attempt=attempt, account=account)


def _account_not_created(attempt: SignupAttempt, *, reason: str) -> bool:
    """Deny the attempt with `reason` and give the device its slot back. The database may be
    what failed, for this too: then the attempt stays as decided, without its account, and the
    device keeps counting it (logged; docs/architecture.md)."""
    try:
        return risk_services.attempt_account_failed(attempt=attempt, reason=reason)
    except DatabaseError:
        logger.exception("attempt %s: account not created, slot not released yet", attempt.pk)
        return False


def _signup_decided(attempt: SignupAttempt, account, timing: SignupTiming) -> None:
    """Once per signup, whatever the outcome: the metrics and the JSON decision line, and
    risk.signals.signup_decided for host code (after the writes commit)."""
    signup_decision_record(attempt=attempt, upstream_ms=timing.upstream_ms, db_ms=timing.db_ms)
    transaction.on_commit(
        lambda: signup_decided.send(SignupAttempt, attempt=attempt, account=account)
    )
