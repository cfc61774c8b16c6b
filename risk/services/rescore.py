"""`manage.py rescore`: the current rules over stored attempts, recorded as Reassessments."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from risk import rules, selectors
from risk.conf import RiskSettings
from risk.email_domains import email_domain
from risk.fingerprint.events import normalise_event
from risk.models import (
    DeviceStatus,
    DrnStatus,
    Reassessment,
    ReviewDecision,
    ReviewStatus,
    SignupAttempt,
)
from risk.services.jobs import BackfillError, Batch, Progress, Tally, item_guard, job_run

# --- rescore: the current rules over stored attempts --------------------------------------

RESCORE_SAMPLE = 20


@dataclass
class RescoreReport:
    """What the current rules say about past attempts, aggregated for the operator."""

    tally: Tally = field(default_factory=Tally)
    transitions: Counter = field(default_factory=Counter)  # "allow->review" -> attempts
    reasons_added: Counter = field(default_factory=Counter)  # reason -> changed attempts
    reasons_removed: Counter = field(default_factory=Counter)
    samples: list[dict] = field(default_factory=list)  # the first few changes, for a look

    def to_state(self) -> dict:
        return {
            "counts": self.tally.as_dict(),
            "transitions": dict(self.transitions),
            "reasons_added": dict(self.reasons_added),
            "reasons_removed": dict(self.reasons_removed),
            "samples": self.samples,
        }

    @classmethod
    def from_state(cls, state: dict) -> RescoreReport:
        return cls(
            Tally(Counter(state.get("counts", {}))),
            Counter(state.get("transitions", {})),
            Counter(state.get("reasons_added", {})),
            Counter(state.get("reasons_removed", {})),
            list(state.get("samples", [])),
        )


def _fetch_failure(attempt: SignupAttempt) -> str | None:
    """How the original fetch failed, for attempts without a snapshot; None: nothing to score."""
    if "fingerprint_unavailable" in attempt.reasons:
        return "unavailable"
    if "event_not_found" in attempt.reasons:
        return "not_found"
    return None  # e.g. imported accounts: there never was an event


def attempt_context_rebuild(
    *, attempt: SignupAttempt, accounts_before: int
) -> rules.SignupContext | None:
    """The rules' input for a past attempt, rebuilt from what was stored.

    Exact: the event (normalised from the raw snapshot), the client IP and Origin, the time of
    the signup (freshness is judged against `created_at`, not today), whether the event was
    reused or the account could not be created, the email's domain, and the history the rules
    read at the time (`attempt.facts`: earlier networks, the network's new and established
    devices, the device's account count, the allowlist entry that covered it). For
    attempts recorded before facts were kept, approximated from current data: the device's
    status (today's, so a device blocked since shows as blocked) and its account count
    (accounts on the device that joined before the attempt, so accounts deleted or moved since
    are not seen). DRN facts are the snapshot linked to the attempt, when that lookup answered.
    """
    snapshot = attempt.fingerprint_event
    if snapshot is not None and not snapshot.raw:
        return None  # purged (retention) or erased: nothing left to score
    if snapshot is None:
        failure = _fetch_failure(attempt)
        if failure is None:
            return None
        return rules.SignupContext(event=None, now=attempt.created_at, fetch_failure=failure)
    device = attempt.device
    drn = attempt.drn_snapshot
    facts = attempt.facts or {}
    return rules.SignupContext(
        drn=drn if drn is not None and drn.status == DrnStatus.OK else None,
        event=normalise_event(snapshot.raw),
        now=attempt.created_at,
        event_reused="event_reused" in attempt.reasons,
        # The account could not be created: facts of the signup, as the reuse above.
        username_taken="username_taken" in attempt.reasons,
        account_failed="account_failed" in attempt.reasons,
        client_ip=attempt.client_ip or "",
        request_origin=attempt.origin,
        device_status=device.status if device else DeviceStatus.NORMAL,
        device_accounts=facts.get("device_accounts", accounts_before),
        same_network=facts.get("same_network"),
        ip_new_devices=facts.get("ip_new_devices", 0),
        ip_established_devices=facts.get("ip_established_devices", 0),
        email_domain=email_domain(attempt.email),
        # The entry that covered the signup then: the allowlist of today may differ.
        allowlist_entry=facts.get("allowlist_entry", ""),
    )


def attempts_rescore(
    *,
    since: datetime,
    until: datetime | None,
    run_id: str,
    cfg: RiskSettings,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> RescoreReport:
    """Re-run the rules over the attempts created in [since, until].

    Applying records one `Reassessment` per attempt and run (unique: rerunning a run id adds
    nothing) and sets review_status to pending on attempts whose decision would change, unless
    a reviewer already decided on them (approved / rejected, or any ReviewDecision row): their
    status and audit rows are left alone. The attempt's original `decision` is never changed.
    `--dry-run` computes the same report and writes nothing, not even a checkpoint.
    """
    end = until or timezone.now()
    if since > end:
        raise BackfillError("invalid_range", "--since is after --until")
    report = RescoreReport()

    def next_batch(state: dict) -> Batch | None:
        nonlocal report
        report = RescoreReport.from_state(state["report"])
        window_end = datetime.fromisoformat(state["until"])  # fixed at the first run
        batch = list(
            SignupAttempt.objects.filter(
                created_at__gte=since, created_at__lte=window_end, pk__gt=state["after"]
            )
            .select_related("fingerprint_event", "device", "drn_snapshot")
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return None
        joined = selectors.device_join_dates(device_ids={a.device_id for a in batch if a.device_id})
        verdicts = []
        for attempt in batch:
            with item_guard(report.tally, what="rescoring attempt", item=attempt.pk):
                dates = joined.get(attempt.device_id, [])
                ctx = attempt_context_rebuild(
                    attempt=attempt, accounts_before=bisect_left(dates, attempt.created_at)
                )
                if ctx is None:
                    report.tally.add("skipped_no_event")
                    continue
                verdicts.append((attempt, rules.evaluate_signup(ctx, cfg)))
        changed = _report_add(report, verdicts)

        def write(state: dict) -> dict:
            if not dry_run:
                _reassessments_record(
                    run_id=run_id, verdicts=verdicts, changed=changed, report=report
                )
            return {**state, "after": batch[-1].pk, "report": report.to_state()}

        return Batch(size=len(batch), write=write)

    job_run(
        name=f"rescore:{run_id}",
        initial={"after": 0, "until": end.isoformat(), "report": {}},
        next_batch=next_batch,
        persist=not dry_run,
        progress=progress,
    )
    return report


def _report_add(report: RescoreReport, verdicts: list) -> list[SignupAttempt]:
    changed = []
    for attempt, assessment in verdicts:
        report.tally.add("scored")
        if assessment.decision == attempt.decision:
            report.tally.add("unchanged")
            continue
        changed.append(attempt)
        report.tally.add("changed")
        report.transitions[f"{attempt.decision}->{assessment.decision}"] += 1
        added = sorted(set(assessment.reasons) - set(attempt.reasons))
        removed = sorted(set(attempt.reasons) - set(assessment.reasons))
        for reason in added:
            report.reasons_added[reason] += 1
        for reason in removed:
            report.reasons_removed[reason] += 1
        if len(report.samples) < RESCORE_SAMPLE:
            report.samples.append(
                {
                    "attempt": attempt.pk,
                    "from": attempt.decision,
                    "to": assessment.decision,
                    "added": added,
                    "removed": removed,
                }
            )
    return changed


def _reassessments_record(
    *, run_id: str, verdicts: list, changed: list[SignupAttempt], report: RescoreReport
) -> None:
    ids = [attempt.pk for attempt, _ in verdicts]
    done = set(
        Reassessment.objects.filter(run_id=run_id, attempt_id__in=ids).values_list(
            "attempt_id", flat=True
        )
    )
    rows = [
        Reassessment(
            attempt=attempt,
            run_id=run_id,
            previous_decision=attempt.decision,
            decision=assessment.decision,
            reasons=assessment.reasons,
        )
        for attempt, assessment in verdicts
        if attempt.pk not in done
    ]
    Reassessment.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    report.tally.add("reassessments_recorded", len(rows))
    if not changed:
        return
    changed_ids = [a.pk for a in changed]
    reviewed = SignupAttempt.objects.filter(pk__in=changed_ids).filter(
        Q(review_status__in=[ReviewStatus.APPROVED, ReviewStatus.REJECTED])
        | Q(Exists(ReviewDecision.objects.filter(attempt=OuterRef("pk"))))
    )
    report.tally.add("kept_reviewer_decision", reviewed.count())
    # Conditional UPDATE: a reviewer deciding right now (status leaves "") is never overwritten.
    flagged = (
        SignupAttempt.objects.filter(pk__in=changed_ids, review_status=ReviewStatus.NONE)
        .exclude(Exists(ReviewDecision.objects.filter(attempt=OuterRef("pk"))))
        .update(review_status=ReviewStatus.PENDING)
    )
    report.tally.add("flagged_for_review", flagged)
