"""Suspect feedback: tell Fingerprint which events our reviewers found fraudulent, so that it
can tune its Smart Signals for the workspace (v4 `PATCH /v4/events/{id}` `{"suspect": bool}`,
v3 `PUT /events/{id}`).

What to say is derived from the decisions' state, not from each action: an event is wanted
suspect while one of its attempts stands rejected or its device is blocked. So a reject, a
device block (with its cascade) say `true`; an approval, an unblock (which restores what the
block changed, and only that) or trusting a blocked device say `false` for the events that
were wanted suspect before. An event never wanted suspect is never told anything.

One risk.SuspectReport per event holds the wish (`wanted`, and `wish`, bumped by every change
of mind) and what Fingerprint has from us (`reported`); it is written in the decision's
transaction, so a recorded decision always owes its feedback. A sender claims the row
(due -> sending, with a lease) and sends the current wish: sends of one event never overlap,
go out in the order of the wishes, and the latest one wins; it marks the row sent only if no
wish came while the request was on the way, else it goes again. Sending what Fingerprint
already has from us is a no-op. Every request (and every event found too old to update) is
one append-only risk.SuspectReportLog row and a count in `fpdjango_suspect_feedback_total`.

The sending is done by a Celery worker after the decision commits (risk.tasks), each request
taking a slot of the Server API budget that the backfills draw from too. Without a broker
nothing is sent from the reviewer's request (a block can owe thousands of requests):
`manage.py send_suspect_feedback` sends what is owed, and with a broker beat's sweep re-sends
what a lost task left owed.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from risk import selectors
from risk.background import enqueue
from risk.clients import fingerprint_feedback_client
from risk.conf import risk_settings
from risk.fingerprint.errors import FingerprintError, RequestError, UnavailableError
from risk.models import (
    DeviceStatus,
    FingerprintEvent,
    ReviewAction,
    ReviewDecision,
    ReviewStatus,
    SignupAttempt,
    SuspectReport,
    SuspectReportLog,
    SuspectReportStatus,
)
from risk.observability import suspect_feedback_record
from risk.shared_limits import SERVER_API_BUDGET, api_limiter

logger = logging.getLogger(__name__)

Status = SuspectReportStatus
# Fingerprint updates events up to a month old and refuses older ones.
MAX_EVENT_AGE = timedelta(days=30)
# A refusal of an event this old is the age limit ("a month" may be shorter than 30 days).
REFUSED_AS_TOO_OLD = timedelta(days=28)
# Requests per second this feedback may take of the Server API budget (the backfills' default
# --rps): a block of a busy device owes one request per event, and live signups need the rest
# of the key's quota (about 5/s).
FEEDBACK_RPS = 2.0
LIMITER_WAIT_S = 10.0  # no slot this soon: the task retries later instead of holding a worker
LEASE = timedelta(minutes=2)  # a sender that died leaves its claim; another takes it after this
# A due row untouched this long lost its task (the broker was down, retries ran out): the
# sweep sends it. Longer than the task's longest backoff, so it does not race a live retry.
IDLE_BEFORE_SWEEP = timedelta(minutes=15)
# Wishes that arrive while a request is on the way: each makes the sender go again.
MAX_ROUNDS = 5

# Decisions that can change what an event is wanted to be.
FEEDBACK_ACTIONS = (
    ReviewAction.REJECT,
    ReviewAction.APPROVE,
    ReviewAction.BLOCK_DEVICE,
    ReviewAction.UNBLOCK_DEVICE,
    ReviewAction.TRUST_DEVICE,
)
# ... and those that change it for every event of the device (trusting a blocked device too).
DEVICE_WIDE = (ReviewAction.BLOCK_DEVICE, ReviewAction.UNBLOCK_DEVICE)
DECIDED_TASK = "risk.tasks.suspect_feedback_decided_task"
REPORT_TASK = "risk.tasks.suspect_report_task"

# Outcomes of a send (the task's retry decision reads them).
SENT, IN_STEP, BUSY, RETRY, REFUSED, TOO_OLD, OFF, GONE = (
    "sent",
    "in_step",
    "busy",
    "retry",
    "refused",
    "too_old",
    "off",
    "gone",
)
AGAIN = "again"  # internal: a new wish came while sending
# A report another sender holds, or that is settled, when a sender comes to claim it.
UNCLAIMED = {
    Status.DUE: BUSY,  # released by another sender a moment ago: its task retries
    Status.SENDING: BUSY,
    Status.SENT: IN_STEP,
    Status.NOT_NEEDED: IN_STEP,
    Status.REFUSED: REFUSED,
    Status.TOO_OLD: TOO_OLD,
}


# --- the wishes, in the decision's transaction ----------------------------------------------


def suspect_feedback_owed(*, decision: ReviewDecision) -> None:
    """Record what the decision (and its cascade) means Fingerprint should now believe about
    the events it touched, in the decision's transaction; the requests are enqueued once it
    commits. FINGERPRINT_SUSPECT_FEEDBACK=0: nothing."""
    if not risk_settings().suspect_feedback or decision.action not in FEEDBACK_ACTIONS:
        return
    touched = _events_touched(decision)
    if touched is None:
        return
    suspect = _events_wanted_suspect(touched)
    now = timezone.now()
    reports = SuspectReport.objects.filter(event_id__in=touched)
    changed = {"wish": F("wish") + 1, "decision": decision, "updated_at": now}
    # Wanted suspect now, and not before (or never recorded).
    reports.filter(event_id__in=suspect, wanted=False).update(
        wanted=True, status=_status_after_wish(True), **changed
    )
    new = list(
        FingerprintEvent.objects.filter(pk__in=suspect)
        .exclude(suspect_report__isnull=False)
        .values_list("pk", "timestamp")
    )
    too_old = now - MAX_EVENT_AGE
    SuspectReport.objects.bulk_create(
        SuspectReport(
            event_id=pk,
            wanted=True,
            decision=decision,
            status=Status.TOO_OLD if stamp is not None and stamp < too_old else Status.DUE,
            updated_at=now,
        )
        for pk, stamp in new
    )
    if new:
        _too_old_logged(decision=decision)
    # Wanted suspect before, not any more.
    reports.exclude(event_id__in=suspect).filter(wanted=True).update(
        wanted=False, status=_status_after_wish(False), **changed
    )
    decision_id = decision.pk
    transaction.on_commit(lambda: suspect_feedback_enqueue(decision_id=decision_id))


def _events_touched(decision: ReviewDecision) -> QuerySet | None:
    """The events whose wish the decision may change: the attempt's, and for a block, an
    unblock or trusting a blocked device, every event of the device's attempts."""
    q = Q(pk=decision.attempt_id) if decision.attempt_id else None
    was_blocked = (decision.previous or {}).get("device_status") == DeviceStatus.BLOCKED
    whole_device = decision.action in DEVICE_WIDE or was_blocked
    if whole_device and decision.device_id:
        device = Q(device_id=decision.device_id)
        q = device if q is None else q | device
    if q is None:
        return None  # e.g. trusting a device that was not blocked, from its own page
    return (
        SignupAttempt.objects.filter(q, fingerprint_event__isnull=False)
        .values("fingerprint_event_id")
        .distinct()
    )


def _events_wanted_suspect(events: QuerySet) -> QuerySet:
    """Those of `events` with an attempt that stands rejected or a device that is blocked."""
    return (
        SignupAttempt.objects.filter(fingerprint_event_id__in=events)
        .filter(
            Q(review_status=ReviewStatus.REJECTED)
            | Q(device__status=DeviceStatus.BLOCKED)
            | Q(fingerprint_event__device__status=DeviceStatus.BLOCKED)
        )
        .values("fingerprint_event_id")
    )


def _status_after_wish(wanted: bool) -> Case:
    """A row's status once its wish changed to `wanted`: a sender on the way keeps its claim
    (and goes again when it sees the new wish); an event too old stays so; otherwise due,
    unless Fingerprint already has that value from us (or, for `false`, was never told)."""
    if wanted:
        in_step, settled = Q(reported=True), Value(Status.SENT)
    else:
        in_step = Q(reported=False) | Q(reported__isnull=True)
        settled = Case(
            When(reported__isnull=True, then=Value(Status.NOT_NEEDED)), default=Value(Status.SENT)
        )
    return Case(
        When(status__in=(Status.SENDING, Status.TOO_OLD), then=F("status")),
        When(in_step, then=settled),
        default=Value(Status.DUE),
    )


def _too_old_logged(*, decision: ReviewDecision) -> None:
    """One log row (and count) for each report the decision created on an event too old."""
    rows = list(
        SuspectReport.objects.filter(
            decision=decision, status=Status.TOO_OLD, log__isnull=True
        ).select_related("event")
    )
    SuspectReportLog.objects.bulk_create(
        SuspectReportLog(
            report=row,
            event_id=row.event.event_id,
            suspect=True,
            outcome=TOO_OLD,
            decision=decision,
            message="older than a month: Fingerprint no longer updates it",
        )
        for row in rows
    )
    for _ in rows:
        suspect_feedback_record(outcome=TOO_OLD)


def suspect_feedback_enqueue(*, decision_id: int) -> bool:
    """After the decision commits: hand its requests to a worker. False without a broker (or
    with it down): the reports stay due for `send_suspect_feedback` / the sweep."""
    sent = enqueue(DECIDED_TASK, decision_id)
    if not sent:
        logger.info(
            "suspect feedback of decision %s left for send_suspect_feedback (no worker)",
            decision_id,
        )
    return sent


def suspect_reports_of_decision(*, decision_id: int) -> list[int]:
    """The reports the decision made due (a later decision may have taken some over)."""
    return list(
        SuspectReport.objects.filter(decision_id=decision_id, status=Status.DUE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def suspect_reports_fan_out(*, report_ids: list[int]) -> int:
    """One task per report (each retries on its own); returns how many were enqueued."""
    return sum(1 for pk in report_ids if enqueue(REPORT_TASK, pk))


# --- sending ----------------------------------------------------------------------------


def suspect_report_send(*, report_id: int) -> str:
    """Claim the report and send its current wish; again while new wishes arrive meanwhile.
    Returns `sent`, `in_step` (Fingerprint already has it: nothing sent), `busy` (another
    sender holds it), `retry` (Fingerprint unavailable, rate limited, or no slot in the
    budget: the row is due again), `refused` (a 4xx: final), `too_old`, `off`, `gone`."""
    for _ in range(MAX_ROUNDS):
        outcome = _send_once(report_id)
        if outcome != AGAIN:
            return outcome
    return RETRY  # wishes keep coming: the row is due, the task's retry picks it up


def _claim(report_id: int) -> bool:
    now = timezone.now()
    return bool(
        SuspectReport.objects.filter(
            Q(status=Status.DUE) | Q(status=Status.SENDING, claimed_until__lt=now), pk=report_id
        ).update(status=Status.SENDING, claimed_until=now + LEASE, updated_at=now)
    )


def _release(report_id: int, *, status: str = Status.DUE, **fields) -> None:
    SuspectReport.objects.filter(pk=report_id).update(
        status=status, claimed_until=None, updated_at=timezone.now(), **fields
    )


def _send_once(report_id: int) -> str:
    if not _claim(report_id):
        current = SuspectReport.objects.filter(pk=report_id).values_list("status", flat=True)
        return UNCLAIMED.get(current.first(), GONE)
    report = SuspectReport.objects.select_related("event").get(pk=report_id)
    value, wish = report.wanted, report.wish
    if not risk_settings().suspect_feedback:
        _release(report_id)  # kept owed: sent if the feedback is switched on again
        return OFF
    if value == bool(report.reported):
        settled = Status.NOT_NEEDED if report.reported is None else Status.SENT
        if _settle(report_id, wish=wish, status=settled):
            return IN_STEP
        _release(report_id)
        return AGAIN
    event = report.event
    log = {"report_id": report_id, "event_id": event.event_id, "suspect": value}
    log["decision_id"] = report.decision_id
    if _too_old(event, MAX_EVENT_AGE):
        _log(outcome=TOO_OLD, message="older than a month: Fingerprint no longer updates it", **log)
        return _final(report_id, wish=wish, status=Status.TOO_OLD, error="older than a month")
    limiter = api_limiter(SERVER_API_BUDGET, FEEDBACK_RPS)
    if not limiter.acquire(timeout=LIMITER_WAIT_S):
        message = "no slot in the Server API budget"
        _release(report_id, last_error=message)
        _log(outcome=RETRY, code="client_rate_limited", message=message, **log)
        return RETRY
    try:
        fingerprint_feedback_client().update_event(event.event_id, suspect=value)
    except FingerprintError as exc:
        return _failed(report_id, wish=wish, exc=exc, event=event, log=log)
    now = timezone.now()
    _log(outcome=SENT, http_status=200, **log)
    if _settle(report_id, wish=wish, status=Status.SENT, reported=value, reported_at=now):
        return SENT
    # A new wish came while the request was on the way: Fingerprint has `value`; go again
    # if the wish now differs from it.
    SuspectReport.objects.filter(pk=report_id).update(
        reported=value,
        reported_at=now,
        last_error="",
        claimed_until=None,
        updated_at=now,
        status=Case(When(wanted=value, then=Value(Status.SENT)), default=Value(Status.DUE)),
    )
    return AGAIN


def _settle(report_id: int, *, wish: int, status: str, last_error: str = "", **fields) -> bool:
    """Mark the report done, only if no wish came since the sender read it."""
    return bool(
        SuspectReport.objects.filter(pk=report_id, wish=wish).update(
            status=status,
            claimed_until=None,
            last_error=last_error,
            updated_at=timezone.now(),
            **fields,
        )
    )


def _final(report_id: int, *, wish: int, status: str, error: str) -> str:
    """Refused or too old, for good: unless a new wish came meanwhile, which is tried next."""
    if _settle(report_id, wish=wish, status=status, last_error=error):
        return REFUSED if status == Status.REFUSED else TOO_OLD
    _release(report_id)
    return AGAIN


def _failed(
    report_id: int, *, wish: int, exc: FingerprintError, event: FingerprintEvent, log: dict
) -> str:
    """Unavailable (5xx, 409 state_not_ready, 429, timeouts, connection errors): worth trying
    again. Any other answer (400, 403, 404...): recorded, not retried."""
    error = str(exc)[:255]
    answer = {"http_status": exc.status, "code": (exc.code or "")[:64], "message": error}
    if isinstance(exc, UnavailableError):
        _release(report_id, last_error=error)
        _log(outcome=RETRY, **answer, **log)
        logger.warning("suspect feedback for %s will be retried: %s", event.event_id, exc)
        return RETRY
    if isinstance(exc, RequestError) and _too_old(event, REFUSED_AS_TOO_OLD):
        _log(outcome=TOO_OLD, **answer, **log)
        return _final(report_id, wish=wish, status=Status.TOO_OLD, error=error)
    _log(outcome=REFUSED, **answer, **log)
    logger.error("Fingerprint refused the suspect feedback for %s: %s", event.event_id, exc)
    return _final(report_id, wish=wish, status=Status.REFUSED, error=error)


def _too_old(event: FingerprintEvent, age: timedelta) -> bool:
    return event.timestamp is not None and event.timestamp < timezone.now() - age


def _log(*, outcome: str, **fields) -> None:
    SuspectReportLog.objects.create(outcome=outcome, **fields)
    suspect_feedback_record(outcome=outcome)


def suspect_report_give_up(*, report_id: int) -> None:
    """The task ran out of retries: logged; the row stays due for the sweep or the command."""
    report = SuspectReport.objects.select_related("event").filter(pk=report_id).first()
    if report is None or report.status != Status.DUE:
        return
    _log(
        outcome="gave_up",
        report_id=report_id,
        event_id=report.event.event_id,
        suspect=report.wanted,
        decision_id=report.decision_id,
        message=report.last_error,
    )


# --- what is owed (the sweep, the command) ------------------------------------------------


def suspect_feedback_sweep(*, limit: int = 1000) -> int:
    """Beat: enqueue the reports a lost task left owed; returns how many."""
    if not risk_settings().suspect_feedback:
        return 0
    ids = selectors.suspect_reports_owed(limit=limit, idle_for=IDLE_BEFORE_SWEEP)
    return suspect_reports_fan_out(report_ids=ids)


def suspect_feedback_send_owed(*, limit: int = 1000) -> Counter:
    """Send what is owed from this process (`manage.py send_suspect_feedback`: the way without
    a broker). Counts by outcome."""
    counts: Counter = Counter()
    if not risk_settings().suspect_feedback:
        counts[OFF] += 1
        return counts
    for report_id in selectors.suspect_reports_owed(limit=limit, idle_for=None):
        counts[suspect_report_send(report_id=report_id)] += 1
    return counts
