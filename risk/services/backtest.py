"""Backtests: proposed rule thresholds over the stored attempts of a window, beside the
thresholds in force, with the reviewers' decisions as labels.

Every stored attempt is judged as `manage.py rescore` judges it: its rules' input rebuilt from
what was stored (`risk.services.rescore.attempt_context_rebuild`: the snapshot, the time of
the signup, the history the rules read then), then the rules table (`rules.evaluate_signup`)
twice, with the thresholds in force and with the proposed ones in their place. The rules and
the facts are production's; only the thresholds differ. Nothing is written but the run's
progress and result.

Labels: an attempt a reviewer approved is a person; one a reviewer rejected, or whose device
is blocked, is fraud; the others are unlabelled. Attempts with no snapshot left (purged by
retention, erased, or an import that never had one) are counted as skipped.

Two ways to run one:
* `backtest_run(window_days=30, values={...})` runs it here, to the end: benchmarks, the
  decision-quality bench, tests.
* `backtest_start(...)` is the console's: the window's attempts are cut into chunks by id, one
  Celery task each (`risk.tasks.backtest_chunk_task`), which saves its progress and partial
  counts in a `BackfillCheckpoint` row after every batch (a redelivered chunk resumes where it
  stopped); the last chunk to finish merges them into the run's row, which the page reads.
  Without a broker the chunks run in the request (small development data).
"""

from __future__ import annotations

import logging
import math
import secrets
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from risk import background, rules, selectors
from risk.conf import RiskSettings, risk_settings
from risk.models import (
    BackfillCheckpoint,
    DeviceStatus,
    ReviewStatus,
    SignupAttempt,
    ThresholdChange,
)
from risk.services.jobs import batch_committed, checkpoint_load, checkpoint_save
from risk.services.rescore import attempt_context_rebuild
from risk.services.thresholds import ThresholdError, django_thresholds, thresholds_apply
from risk.thresholds import (
    thresholds_apply_to,
    thresholds_of,
    thresholds_parse,
    thresholds_reload,
    thresholds_validate,
)

logger = logging.getLogger(__name__)

WINDOWS = (7, 30, 90)  # days, as the console offers them
SIDES = ("now", "proposed")
LABELS = ("person", "fraud")
OUTCOMES = tuple(rules.Decision.values)
SAMPLE_PER_MOVE = 5  # the most recent attempts of each move, for a look
BATCH = 1000  # attempts read per query (and per progress save)
CHUNK = 20_000  # attempts per task: a few seconds of work, far below the broker's redelivery
KEEP_RUNS = 20  # finished runs kept for the page; older ones are dropped when one starts
RUN_PREFIX, CHUNK_PREFIX = "backtest:", "backtest-chunk:"
RUNNING, DONE, FAILED = "running", "done", "failed"
TASK = "risk.tasks.backtest_chunk_task"


# --- the report -------------------------------------------------------------------------------


def _counter_of_counters() -> dict[str, dict[str, Counter]]:
    return {side: {label: Counter() for label in LABELS} for side in SIDES}


@dataclass
class BacktestReport:
    """What the proposed thresholds would have decided over a window, beside what the
    thresholds in force decide, counted; `merge` adds another part of the same window."""

    window_days: int
    since: datetime
    until: datetime
    current: dict[str, Any]  # every threshold in force, by setting name
    proposed: dict[str, Any]  # every threshold as proposed
    tally: Counter = field(default_factory=Counter)  # scored, skipped, failed, moved, drift
    outcomes: dict[str, Counter] = field(default_factory=lambda: {s: Counter() for s in SIDES})
    moves: Counter = field(default_factory=Counter)  # "review->allow" -> attempts
    moves_labelled: dict[str, Counter] = field(default_factory=dict)  # move -> label -> n
    labels: Counter = field(default_factory=Counter)  # label -> scored attempts
    labelled: dict[str, dict[str, Counter]] = field(default_factory=_counter_of_counters)
    reasons_added: Counter = field(default_factory=Counter)  # on moved attempts
    reasons_removed: Counter = field(default_factory=Counter)
    samples: dict[str, list[dict]] = field(default_factory=dict)  # move -> newest attempts

    @property
    def changed(self) -> dict[str, tuple[Any, Any]]:
        """The thresholds the proposal changes: name -> (now, proposed)."""
        return {
            name: (self.current.get(name), value)
            for name, value in self.proposed.items()
            if self.current.get(name) != value
        }

    def people_denied(self, side: str) -> int:
        return self.labelled[side]["person"][rules.DENY]

    def people_held(self, side: str) -> int:
        return self.labelled[side]["person"][rules.REVIEW]

    def fraud_allowed(self, side: str) -> int:
        return self.labelled[side]["fraud"][rules.ALLOW]

    def fraud_held(self, side: str) -> int:
        return self.labelled[side]["fraud"][rules.REVIEW]

    def sample(self) -> list[dict]:
        """Every sampled attempt, moves in order of size, newest first within a move."""
        order = [move for move, _ in self.moves.most_common()]
        return [
            {**item, "move": move}
            for move in order
            for item in reversed(self.samples.get(move, []))
        ]

    # Building it.

    def add(self, attempt: SignupAttempt, now: rules.Assessment, new: rules.Assessment) -> None:
        label = attempt_label(attempt)
        self.tally["scored"] += 1
        if now.decision != attempt.decision:
            self.tally["drift"] += 1  # the rules of today judge it differently from then
        self.outcomes["now"][now.decision] += 1
        self.outcomes["proposed"][new.decision] += 1
        if label:
            self.labels[label] += 1
            self.labelled["now"][label][now.decision] += 1
            self.labelled["proposed"][label][new.decision] += 1
        if new.decision == now.decision:
            return
        move = f"{now.decision}->{new.decision}"
        self.tally["moved"] += 1
        self.moves[move] += 1
        self.moves_labelled.setdefault(move, Counter())[label or "unlabelled"] += 1
        self.reasons_added.update(set(new.reasons) - set(now.reasons))
        self.reasons_removed.update(set(now.reasons) - set(new.reasons))
        kept = self.samples.setdefault(move, [])
        kept.append(
            {
                "attempt": attempt.pk,
                "created_at": attempt.created_at.isoformat(),
                "label": label,
                "now": now.reasons,
                "proposed": new.reasons,
            }
        )
        del kept[:-SAMPLE_PER_MOVE]

    def merge(self, other: BacktestReport) -> None:
        self.tally.update(other.tally)
        for side in SIDES:
            self.outcomes[side].update(other.outcomes[side])
            for label in LABELS:
                self.labelled[side][label].update(other.labelled[side][label])
        self.moves.update(other.moves)
        for move, counts in other.moves_labelled.items():
            self.moves_labelled.setdefault(move, Counter()).update(counts)
        self.labels.update(other.labels)
        self.reasons_added.update(other.reasons_added)
        self.reasons_removed.update(other.reasons_removed)
        for move, items in other.samples.items():
            kept = sorted([*self.samples.get(move, []), *items], key=lambda item: item["attempt"])
            self.samples[move] = kept[-SAMPLE_PER_MOVE:]

    # Stored as JSON (the run's checkpoint row; the summary in a ThresholdChange).

    def to_state(self, *, samples: bool = True) -> dict:
        state = {
            "window_days": self.window_days,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "current": self.current,
            "proposed": self.proposed,
            "changed": sorted(self.changed),
            "tally": dict(self.tally),
            "outcomes": {side: dict(self.outcomes[side]) for side in SIDES},
            "moves": dict(self.moves),
            "moves_labelled": {move: dict(c) for move, c in self.moves_labelled.items()},
            "labels": dict(self.labels),
            "labelled": {
                side: {label: dict(self.labelled[side][label]) for label in LABELS}
                for side in SIDES
            },
            "reasons_added": dict(self.reasons_added),
            "reasons_removed": dict(self.reasons_removed),
        }
        if samples:
            state["samples"] = self.samples
        return state

    @classmethod
    def from_state(cls, state: Mapping) -> BacktestReport:
        report = cls(
            window_days=state["window_days"],
            since=datetime.fromisoformat(state["since"]),
            until=datetime.fromisoformat(state["until"]),
            # Typed again (JSON has no tuples); a threshold retired since is left out.
            current=thresholds_parse(state["current"])[0],
            proposed=thresholds_parse(state["proposed"])[0],
            tally=Counter(state.get("tally", {})),
            moves=Counter(state.get("moves", {})),
            moves_labelled={m: Counter(c) for m, c in state.get("moves_labelled", {}).items()},
            labels=Counter(state.get("labels", {})),
            reasons_added=Counter(state.get("reasons_added", {})),
            reasons_removed=Counter(state.get("reasons_removed", {})),
            samples={m: list(items) for m, items in state.get("samples", {}).items()},
        )
        for side in SIDES:
            report.outcomes[side] = Counter(state.get("outcomes", {}).get(side, {}))
            for label in LABELS:
                counts = state.get("labelled", {}).get(side, {}).get(label, {})
                report.labelled[side][label] = Counter(counts)
        return report

    def empty_copy(self) -> BacktestReport:
        return BacktestReport(
            self.window_days, self.since, self.until, dict(self.current), dict(self.proposed)
        )


def attempt_label(attempt: SignupAttempt) -> str:
    """What reviewers made of an attempt: "fraud" (rejected, or its device blocked), "person"
    (approved), or "" (nobody said)."""
    blocked = attempt.device is not None and attempt.device.status == DeviceStatus.BLOCKED
    if attempt.review_status == ReviewStatus.REJECTED or blocked:
        return "fraud"
    if attempt.review_status == ReviewStatus.APPROVED:
        return "person"
    return ""


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sides:
    now: RiskSettings
    proposed: RiskSettings
    same: bool  # nothing changes: the second evaluation would repeat the first


def _sides(report: BacktestReport) -> _Sides:
    # Settings other than the thresholds are this process's own (origins, the IP check...).
    base = risk_settings()
    now = thresholds_apply_to(base, report.current)
    proposed = thresholds_apply_to(base, report.proposed)
    return _Sides(now, proposed, same=not report.changed)


def _report_new(
    *,
    window_days: int,
    values: Mapping[str, Any],
    now: datetime | None,
    current: Mapping[str, Any] | None,
) -> BacktestReport:
    """An empty report for the window ending at `now`, with the thresholds of both sides
    validated (each like its Django setting; together as `manage.py check`)."""
    if not isinstance(window_days, int) or not 1 <= window_days <= 366:
        raise ThresholdError("invalid", "The window is a whole number of days, 1 to 366.")
    cfg = risk_settings()
    if current:
        parsed, problems = thresholds_validate(current, cfg=cfg)
        if problems:
            raise ThresholdError("invalid", "Some current values are not valid.", problems)
        cfg = thresholds_apply_to(cfg, parsed)
    parsed, problems = thresholds_validate(values, cfg=cfg)
    if problems:
        raise ThresholdError("invalid", "Some proposed values are not valid.", problems)
    until = now or timezone.now()
    return BacktestReport(
        window_days=window_days,
        since=until - timedelta(days=window_days),
        until=until,
        current=thresholds_of(cfg),
        proposed=thresholds_of(thresholds_apply_to(cfg, parsed)),
    )


def _window_rows(report: BacktestReport) -> tuple[int, int, int]:
    """(attempts in the window, lowest id, highest id)."""
    found = SignupAttempt.objects.filter(
        created_at__gte=report.since, created_at__lte=report.until
    ).aggregate(n=Count("pk"), lo=Min("pk"), hi=Max("pk"))
    return found["n"], found["lo"] or 0, found["hi"] or 0


# The columns attempt_context_rebuild and the report read, and no others: decoding the rest
# (timestamps, addresses, JSON the rules never see) was half the time of reading a batch. A
# column read that is not listed costs a query per attempt, which the tests would see.
COLUMNS = (
    *("created_at", "decision", "reasons", "facts", "review_status", "client_ip", "origin"),
    *("email", "device_id", "fingerprint_event_id", "drn_snapshot_id"),
    "fingerprint_event__raw",
    "device__status",
    *("drn_snapshot__status", "drn_snapshot__first_seen_at", "drn_snapshot__location_masked"),
    "drn_snapshot__max_percentile",
)


def _batch(report: BacktestReport, *, after: int, upto: int, size: int) -> list[SignupAttempt]:
    return list(
        SignupAttempt.objects.filter(
            created_at__gte=report.since, created_at__lte=report.until, pk__gt=after, pk__lte=upto
        )
        .select_related("fingerprint_event", "device", "drn_snapshot")
        .only(*COLUMNS)
        .order_by("pk")[:size]
    )


def _score(report: BacktestReport, attempts: Iterable[SignupAttempt], sides: _Sides) -> None:
    attempts = list(attempts)
    # The account count before the signup, for attempts recorded before facts were kept (as
    # rescore does): one query per batch, only when such attempts are in it.
    old = {a.device_id for a in attempts if a.device_id and "device_accounts" not in a.facts}
    joined = selectors.device_join_dates(device_ids=old) if old else {}
    for attempt in attempts:
        try:
            dates = joined.get(attempt.device_id, ())
            ctx = attempt_context_rebuild(
                attempt=attempt, accounts_before=bisect_left(dates, attempt.created_at)
            )
            if ctx is None:
                report.tally["skipped"] += 1
                continue
            now = rules.evaluate_signup(ctx, sides.now)
            new = now if sides.same else rules.evaluate_signup(ctx, sides.proposed)
        except Exception:
            logger.exception("backtest: attempt %s could not be scored", attempt.pk)
            report.tally["failed"] += 1
            continue
        report.add(attempt, now, new)


def _range_score(
    report: BacktestReport, sides: _Sides, *, after: int, upto: int, size: int
) -> Iterable[tuple[int, int]]:
    """Score the window's attempts with ids in (after, upto], a batch at a time; yields
    (last id, attempts) after each batch."""
    while batch := _batch(report, after=after, upto=upto, size=size):
        _score(report, batch, sides)
        after = batch[-1].pk
        yield after, len(batch)


def backtest_run(
    *,
    window_days: int,
    values: Mapping[str, Any],
    now: datetime | None = None,
    current: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
) -> BacktestReport:
    """The backtest of `values` (proposed thresholds by setting name, e.g.
    {"RISK_SUSPECT_SCORE_REVIEW": 20}; the others stay as they are) over the attempts created
    in the `window_days` before `now`, in this process. `current`: thresholds to take as in
    force instead of this process's (a bench comparing two explicit sets). Raises
    ThresholdError for values that are not valid thresholds."""
    report = _report_new(window_days=window_days, values=values, now=now, current=current)
    count, lo, hi = _window_rows(report)
    if count:
        size = batch_size or BATCH
        for _ in _range_score(report, _sides(report), after=lo - 1, upto=hi, size=size):
            pass
    return report


# --- runs from the console: chunks as Celery tasks, progress in checkpoints ------------------


@dataclass
class BacktestRun:
    """A run as the console shows it."""

    run_id: str
    status: str  # running | done | failed
    total: int  # attempts in the window
    done: int  # attempts read so far
    started: datetime
    finished: datetime | None
    actor_name: str
    report: BacktestReport  # complete when done; the parameters (and empty counts) before
    error: str = ""

    @property
    def percent(self) -> int:
        if self.status == DONE or not self.total:
            return 100 if self.status == DONE else 0
        return min(99, math.floor(100 * self.done / self.total))

    @property
    def elapsed_s(self) -> float:
        end = self.finished or timezone.now()
        return max(0.0, (end - self.started).total_seconds())


def run_name(run_id: str) -> str:
    return f"{RUN_PREFIX}{run_id}"


def chunk_name(run_id: str, chunk: int) -> str:
    return f"{CHUNK_PREFIX}{run_id}:{chunk}"


def backtest_start(
    *, actor, window_days: int, values: Mapping[str, Any], now: datetime | None = None
) -> str:
    """Start the console's backtest of `values` over the window; its run id. The thresholds in
    force are read afresh and kept with the run: applying its values later is refused if they
    have moved since."""
    thresholds_reload()
    report = _report_new(window_days=window_days, values=values, now=now, current=None)
    count, lo, hi = _window_rows(report)
    run_id = secrets.token_hex(6)
    pieces = max(1, math.ceil(count / CHUNK)) if count else 0
    step = math.ceil((hi - lo + 1) / pieces) if pieces else 0
    bounds = [(lo - 1 + i * step, min(hi, lo - 1 + (i + 1) * step)) for i in range(pieces)]
    with transaction.atomic():
        _runs_prune()
        checkpoint_save(
            name=run_name(run_id),
            state={
                "status": RUNNING,
                "total": count,
                "chunks": pieces,
                "started": timezone.now().isoformat(),
                "actor": getattr(actor, "pk", None),
                "actor_name": actor.get_username() if actor is not None else "",
                "report": report.to_state(),
            },
        )
        for i, (after, upto) in enumerate(bounds):
            checkpoint_save(
                name=chunk_name(run_id, i),
                state={"after": after, "upto": upto, "done": 0, "finished": False, "report": {}},
            )
    if not pieces:
        backtest_finish(run_id=run_id)
    elif background.tasks_run_inline():
        _chunks_run_here(run_id, range(pieces))
    else:  # workers must find the rows: sent once they are committed
        transaction.on_commit(lambda: _chunks_send(run_id, pieces))
    return run_id


def _chunks_send(run_id: str, pieces: int) -> None:
    unsent = [i for i in range(pieces) if not background.enqueue(TASK, run_id, i)]
    _chunks_run_here(run_id, unsent)  # the broker refused them: here and now


def _chunks_run_here(run_id: str, chunks: Iterable[int]) -> None:
    for chunk in chunks:
        try:
            backtest_chunk_run(run_id=run_id, chunk=chunk)
        except Exception as exc:
            logger.exception("backtest %s: chunk %s failed", run_id, chunk)
            backtest_fail(run_id=run_id, error=f"{type(exc).__name__}: {exc}")
            return


def backtest_chunk_run(*, run_id: str, chunk: int, batch_size: int | None = None) -> None:
    """Score one chunk of a run, saving progress and partial counts after every batch; a
    chunk that is already finished (a task delivered twice) does nothing. The last chunk to
    finish merges the run."""
    name = chunk_name(run_id, chunk)
    state = checkpoint_load(name=name)
    run = checkpoint_load(name=run_name(run_id))
    if state is None or run is None or run["status"] != RUNNING:
        return  # merged already, failed, or dropped
    if not state["finished"]:
        params = BacktestReport.from_state(run["report"])
        report = (
            BacktestReport.from_state(state["report"]) if state["report"] else params.empty_copy()
        )
        scoring = _range_score(
            report,
            _sides(params),
            after=state["after"],
            upto=state["upto"],
            size=batch_size or BATCH,
        )
        for last, n in scoring:
            state = {
                **state,
                "after": last,
                "done": state["done"] + n,
                "report": report.to_state(),
            }
            checkpoint_save(name=name, state=state)
            batch_committed.send(sender=name, state=state)
        checkpoint_save(name=name, state={**state, "report": report.to_state(), "finished": True})
    backtest_finish(run_id=run_id)


def backtest_finish(*, run_id: str) -> bool:
    """Merge a run whose chunks have all finished (once: the run's row is locked and its state
    checked); True when the run is done."""
    with transaction.atomic():
        row = BackfillCheckpoint.objects.select_for_update().filter(name=run_name(run_id)).first()
        if row is None or row.state.get("status") != RUNNING:
            return row is not None and row.state.get("status") == DONE
        chunks = _chunk_states(run_id)
        if len(chunks) < row.state["chunks"] or not all(c["finished"] for c in chunks.values()):
            return False
        report = BacktestReport.from_state(row.state["report"])
        for index in sorted(chunks):
            if chunks[index]["report"]:
                report.merge(BacktestReport.from_state(chunks[index]["report"]))
        row.state = {
            **row.state,
            "status": DONE,
            "done": row.state["total"],
            "finished": timezone.now().isoformat(),
            "report": report.to_state(),
        }
        row.save()
        BackfillCheckpoint.objects.filter(name__startswith=f"{CHUNK_PREFIX}{run_id}:").delete()
    return True


def backtest_fail(*, run_id: str, error: str) -> None:
    """Mark a run failed (a chunk met an error it cannot retry); the page says so."""
    with transaction.atomic():
        row = BackfillCheckpoint.objects.select_for_update().filter(name=run_name(run_id)).first()
        if row is None or row.state.get("status") != RUNNING:
            return
        row.state = {**row.state, "status": FAILED, "error": error[:500]}
        row.save()


def backtest_get(*, run_id: str) -> BacktestRun | None:
    """A run with its progress (the chunks' rows summed while it runs)."""
    state = checkpoint_load(name=run_name(run_id))
    if state is None:
        return None
    done = state.get("done", 0)
    if state["status"] == RUNNING:
        done = sum(chunk["done"] for chunk in _chunk_states(run_id).values())
    return _run(run_id, state, done)


def backtests_recent(*, limit: int = 10) -> list[BacktestRun]:
    rows = BackfillCheckpoint.objects.filter(name__startswith=RUN_PREFIX).order_by("-pk")
    return [
        _run(row.name.removeprefix(RUN_PREFIX), row.state, row.state.get("done", 0))
        for row in rows[:limit]
    ]


def backtest_summary(run: BacktestRun) -> dict:
    """What a threshold change records of the backtest behind it (no sample: attempts are
    people's data, and the audit outlives them)."""
    return {"run": run.run_id, **run.report.to_state(samples=False)}


def backtest_apply(*, actor, run_id: str, note: str = "") -> ThresholdChange:
    """Put a finished run's proposed thresholds in force (risk.services.thresholds), with the
    run's summary in the audit row. A proposed value equal to its Django setting removes the
    override rather than pinning the value. Refused (`changed`) when the thresholds in force
    are no longer the ones the run compared against."""
    run = backtest_get(run_id=run_id)
    if run is None or run.status != DONE:
        raise ThresholdError("not_done", "This backtest has not finished.")
    changed = run.report.changed
    if not changed:
        raise ThresholdError("no_change", "This backtest proposes no change.")
    defaults = thresholds_of(django_thresholds())
    values = {
        name: None if proposed == defaults[name] else proposed
        for name, (_, proposed) in changed.items()
    }
    return thresholds_apply(
        actor=actor,
        values=values,
        expected=run.report.current,
        note=note,
        backtest=backtest_summary(run),
    )


def _run(run_id: str, state: dict, done: int) -> BacktestRun:
    finished = state.get("finished")
    return BacktestRun(
        run_id=run_id,
        status=state["status"],
        total=state["total"],
        done=done,
        started=datetime.fromisoformat(state["started"]),
        finished=datetime.fromisoformat(finished) if finished else None,
        actor_name=state.get("actor_name", ""),
        report=BacktestReport.from_state(state["report"]),
        error=state.get("error", ""),
    )


def _chunk_states(run_id: str) -> dict[int, dict]:
    rows = BackfillCheckpoint.objects.filter(name__startswith=f"{CHUNK_PREFIX}{run_id}:")
    return {int(row.name.rpartition(":")[2]): row.state for row in rows}


def _runs_prune() -> None:
    old = list(
        BackfillCheckpoint.objects.filter(name__startswith=RUN_PREFIX)
        .order_by("-pk")
        .values_list("pk", "name")[KEEP_RUNS - 1 :]
    )
    for pk, name in old:
        run_id = name.removeprefix(RUN_PREFIX)
        BackfillCheckpoint.objects.filter(name__startswith=f"{CHUNK_PREFIX}{run_id}:").delete()
        BackfillCheckpoint.objects.filter(pk=pk).delete()
