"""What every operator job shares: the resumable loop (`job_run`), errors with codes, waiting
for the rate limiter that keeps live signups' share of the API quota, checkpoints, time parsing
and counts.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import InterfaceError, OperationalError, transaction
from django.dispatch import Signal
from django.utils import timezone

from risk.fingerprint.rate_limit import Limiter
from risk.models import BackfillCheckpoint

logger = logging.getLogger(__name__)
Progress = Callable[[int], None]


class BackfillError(Exception):
    """A job cannot start or continue; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- rate limiting ------------------------------------------------------------------------


def permit(limiter: Limiter) -> None:
    while not limiter.acquire(timeout=5.0):
        pass  # keep waiting: a permit is due, the timeout only keeps Ctrl-C responsive


# --- checkpoints --------------------------------------------------------------------------


def checkpoint_load(*, name: str) -> dict | None:
    row = BackfillCheckpoint.objects.filter(name=name).first()
    return dict(row.state) if row else None


def checkpoint_save(*, name: str, state: dict) -> None:
    BackfillCheckpoint.objects.update_or_create(name=name, defaults={"state": state})


def checkpoint_clear(*, name: str) -> None:
    BackfillCheckpoint.objects.filter(name=name).delete()


# --- the loop -----------------------------------------------------------------------------

# Sent after each batch commits, with `sender` the checkpoint name and `state` the saved state.
# A receiver that raises stops the job right there, like a crash (tests use it to prove resume).
batch_committed = Signal()


@dataclass
class Batch:
    """One unit of a job, read (and fetched from the network) outside any transaction."""

    size: int  # rows it stands for on the progress bar
    write: Callable[[dict], dict]  # runs in the transaction: does the work, returns next state
    last: bool = False  # no batch follows (e.g. the search API said there is no next page)


def job_run(
    *,
    name: str,
    initial: dict,
    next_batch: Callable[[dict], Batch | None],
    restart: bool = False,
    persist: bool = True,
    progress: Progress | None = None,
) -> dict:
    """Load checkpoint -> batch -> atomic(work + checkpoint) -> progress -> clear.

    `next_batch(state)` returns the batch after `state` or None when the walk is done; the
    checkpoint `name` holds the state of the last committed batch, so a restart resumes right
    after it. `persist=False` (dry runs) neither reads nor writes a checkpoint. Returns the
    final state.
    """
    state = checkpoint_load(name=name) if persist and not restart else None
    state = state or dict(initial)
    while (batch := next_batch(state)) is not None:
        with transaction.atomic():
            state = batch.write(state)
            if persist:
                checkpoint_save(name=name, state=state)
        if progress:
            progress(batch.size)
        batch_committed.send(sender=name, state=state)
        if batch.last:
            break
    if persist:
        checkpoint_clear(name=name)
    return state


# --- time parsing (shared by the commands) ------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def age_parse(value: str) -> timedelta | None:
    """A relative age such as 90m, 24h, 7d; None when `value` is not one."""
    value = value.strip()
    if len(value) >= 2 and value[-1] in _UNITS and value[:-1].isdigit():
        return timedelta(seconds=int(value[:-1]) * _UNITS[value[-1]])
    return None


def moment_parse(value: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 date/time (UTC when no zone) or a relative age such as 90m, 24h, 7d."""
    value = value.strip()
    if (age := age_parse(value)) is not None:
        return (now or timezone.now()) - age
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BackfillError(
            "invalid_time", f"{value!r} is not an ISO 8601 time or an age like 24h / 7d"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def item_guard(tally: Tally | Counter, *, what: str, item: object) -> Iterator[None]:
    """One item of a batch job: its failure is logged with the item, counted as `failed`, and
    the job goes on without it (its writes rolled back to a savepoint). The database being
    unreachable is no item's failure: that stops the job, to resume later."""
    try:
        with transaction.atomic():
            yield
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("%s %s failed and was skipped", what, item)
        if isinstance(tally, Tally):
            tally.add("failed")
        else:
            tally["failed"] += 1


@dataclass
class Tally:
    """Counts by outcome, printed as the job's summary."""

    counts: Counter = field(default_factory=Counter)

    def add(self, outcome: str, n: int = 1) -> None:
        if n:
            self.counts[outcome] += n

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
