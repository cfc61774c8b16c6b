"""Celery tasks (`celery -A fpdjango worker`). Each is idempotent: the broker may deliver a
task again after a worker dies (CELERY_TASK_ACKS_LATE). With no broker they run inline.

Tasks stay thin: they call one service and decide about retries.
"""

from __future__ import annotations

import logging
import random
import smtplib

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

from risk.conf import risk_settings
from risk.services import (
    backfill_chunks,
    backtest,
    drn,
    feedback,
    notifications,
    retention,
    verification,
)
from risk.shared_limits import SERVER_API_BUDGET, api_limiter

logger = logging.getLogger(__name__)

VERIFY_LOCK_KEY = "lock:attempts-verify-due"


def backoff_s(retries: int, *, base: float = 15.0, cap: float = 600.0) -> float:
    """15 s, 30 s, 1 min, ... capped at 10 min."""
    return min(cap, base * 2**retries)


@shared_task(bind=True, max_retries=8)
def drn_lookup_task(self, device_id: int) -> str:
    """The DRN lookup a signup could not make in its budget; retried with backoff while DRN
    fails (the device stays queued for `backfill_drn` meanwhile)."""
    status = drn.drn_lookup_owed(device_id=device_id)
    if status == "error":
        raise self.retry(countdown=backoff_s(self.request.retries, base=5.0))
    return status


@shared_task(bind=True, max_retries=6)
def attempts_verify_due_task(self, limit: int = 100) -> dict[str, int]:
    """Verify signups accepted while Fingerprint was down (beat runs it every
    VERIFY_UNVERIFIED_EVERY_S). Fingerprint still down: retried with backoff."""
    # One run at a time across all workers: beat and retries must not verify the same rows twice.
    if not cache.add(VERIFY_LOCK_KEY, 1, timeout=300):
        return {"skipped_running": 1}
    try:
        # Never raises for Fingerprint's failures: it counts them.
        counts = verification.attempts_verify_due(limit=limit)
    finally:
        cache.delete(VERIFY_LOCK_KEY)
    if counts.get("unavailable"):
        logger.warning("verification deferred: Fingerprint is still unavailable")
        raise self.retry(countdown=backoff_s(self.request.retries))
    return counts


@shared_task(bind=True, max_retries=8)
def review_email_task(self, email_id: int) -> str:
    """Send the email a reviewer's decision owes (risk.models.ReviewEmail, through
    risk.services.notifications). A mail server that is down, slow or answers 4xx is retried
    with backoff from REVIEW_EMAIL_RETRY_S; one that refuses the message for good (5xx) is not.
    At most once: the email is claimed before it is sent, so a redelivered task (the broker's
    visibility timeout, a worker killed before its acknowledgement) finds it taken."""
    try:
        return notifications.review_email_send(email_id=email_id)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
        codes = (
            [code for code, _ in exc.recipients.values()]
            if isinstance(exc, smtplib.SMTPRecipientsRefused)
            else [exc.smtp_code]
        )
        if all(code >= 500 for code in codes):
            logger.error("review email %s refused for good: %s", email_id, exc)
            notifications.review_email_give_up(email_id=email_id, status="refused")
            return "refused"
        error = exc
    except OSError as exc:  # connection refused, timeout, disconnected (SMTPException too)
        error = exc
    if self.request.retries >= self.max_retries:
        logger.error("review email %s failed after every retry: %s", email_id, error)
        notifications.review_email_give_up(email_id=email_id, status="failed")
        raise error
    base = float(risk_settings().email_retry_s)
    logger.warning("review email %s failed, will retry: %s", email_id, error)
    raise self.retry(exc=error, countdown=backoff_s(self.request.retries, base=base, cap=3600))


# The database briefly unreachable (restart, connection limit): the chunk is safe to rerun.
@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=2, retry_backoff_max=60, max_retries=8
)
def backfill_events_chunk_task(
    phase: str, after: int, upto: int, rps: float, batch_size: int = 100
) -> dict[str, int]:
    """One chunk of `backfill_events --workers N` (risk.services.backfill_chunks); commits
    every `batch_size` rows."""

    limiter = api_limiter(SERVER_API_BUDGET, rps)
    tally = backfill_chunks.events_backfill_range(
        phase=phase, after=after, upto=upto, limiter=limiter, batch_size=batch_size
    )
    return tally.as_dict()


# Two purges never run at once (they would walk the same checkpoint); a crashed one resumes.
PURGE_LOCK_KEY = "lock:snapshots-purge"


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=60, retry_backoff_max=3600, max_retries=5
)
def snapshots_purge_task() -> dict[str, int]:
    """The daily retention purge (RISK_SNAPSHOT_RETENTION_DAYS; beat runs it once a day):
    resumable, so a worker killed half-way leaves a checkpoint the next run continues from."""
    if not cache.add(PURGE_LOCK_KEY, 1, timeout=6 * 3600):
        return {"skipped_running": 1}
    try:
        return retention.snapshots_purge_expired().as_dict()
    finally:
        cache.delete(PURGE_LOCK_KEY)


@shared_task
def suspect_feedback_decided_task(decision_id: int) -> int:
    """A reviewer's decision committed: one task per event whose suspect flag it changed."""
    report_ids = feedback.suspect_reports_of_decision(decision_id=decision_id)
    return feedback.suspect_reports_fan_out(report_ids=report_ids)


@shared_task(bind=True, max_retries=10)
def suspect_report_task(self, report_id: int) -> str:
    """Tell Fingerprint one event's suspect flag (risk.services.feedback). Fingerprint
    unavailable (5xx, 409 state_not_ready, 429, connection errors) or no slot in the Server
    API budget: retried with jittered backoff from 2 s, doubling up to 10 min; after the last
    retry the report stays due for the sweep. A 4xx is final (recorded, not retried)."""
    outcome = feedback.suspect_report_send(report_id=report_id)
    if outcome != feedback.RETRY:
        return outcome
    if self.request.retries >= self.max_retries:
        feedback.suspect_report_give_up(report_id=report_id)
        return "gave_up"
    # Jitter: a block's many events failing together must not come back together.
    countdown = backoff_s(self.request.retries, base=2.0) * random.uniform(0.5, 1.0)
    raise self.retry(countdown=countdown)


@shared_task
def suspect_feedback_sweep_task(limit: int = 1000) -> int:
    """Beat: re-send the suspect feedback a lost task left owed (the broker was down when the
    decision committed, a worker died, the retries ran out)."""
    return feedback.suspect_feedback_sweep(limit=limit)


@shared_task(bind=True, max_retries=8)
def backtest_chunk_task(self, run_id: str, chunk: int) -> str:
    """One chunk of a backtest started in the console (risk.services.backtest): resumes from
    its checkpoint when delivered again. The database away for a moment is retried; any other
    failure marks the run failed, so that the page says so instead of waiting."""
    try:
        backtest.backtest_chunk_run(run_id=run_id, chunk=chunk)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < self.max_retries:
            countdown = backoff_s(self.request.retries, base=2.0, cap=60)
            raise self.retry(exc=exc, countdown=countdown) from exc
        backtest.backtest_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    except Exception as exc:
        backtest.backtest_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    return "done"
