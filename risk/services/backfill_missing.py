"""`manage.py backfill_events` without --since: fetch the snapshots that attempts are missing
(their signup ran while Fingerprint was unreachable, or they were imported) and link them.

Walks the attempts in primary-key order through `risk.services.jobs.job_run`; the checkpoint
holds the phase and the last primary key whose batch committed. Network I/O
happens before each batch's transaction, from threads that share one rate limiter. Ids
Fingerprint does not know are recorded as UnknownEvent and never asked again.
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from risk import selectors
from risk.clients import fingerprint_client
from risk.fingerprint.errors import NOT_FOUND, FingerprintError, fetch_failure
from risk.fingerprint.events import Event
from risk.fingerprint.rate_limit import Limiter
from risk.models import UnknownEvent
from risk.services.event_store import events_store_each, snapshots_link
from risk.services.jobs import Batch, Progress, Tally, job_run, permit
from risk.services.verification import UNAVAILABLE, attempts_verify_due, unverified_count

logger = logging.getLogger(__name__)

CHECKPOINT = "backfill_events:missing"
# One phase today (attempts; accounts are linked through them): the checkpoint's shape keeps a
# phase so that a walk over another table can be added without changing it.
PHASES = ("attempts",)


@dataclass(frozen=True)
class FetchOutcome:
    event_id: str
    event: Event | None
    outcome: str  # fetched | not_found | unavailable
    error: str = ""


def _fetch_one(event_id: str, limiter: Limiter) -> FetchOutcome:
    permit(limiter)
    try:
        return FetchOutcome(event_id, fingerprint_client().get_event(event_id), "fetched")
    except FingerprintError as exc:
        return FetchOutcome(event_id, None, fetch_failure(exc), str(exc))


def events_fetch_by_id(
    *, event_ids: list[str], limiter: Limiter, workers: int = 1
) -> list[FetchOutcome]:
    """Fetch events (threads share the limiter; no database access in the threads)."""
    if workers <= 1 or len(event_ids) <= 1:
        return [_fetch_one(event_id, limiter) for event_id in event_ids]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill-fetch") as pool:
        return list(pool.map(lambda event_id: _fetch_one(event_id, limiter), event_ids))


def missing_events_count() -> dict[str, int]:
    """How many attempts lack their event snapshot (for --dry-run and the bar)."""
    return {"attempts": selectors.attempts_missing_snapshot().count()}


def missing_rows(
    phase: str, after: int, limit: int, upto: int | None = None
) -> list[tuple[int, str]]:
    """(pk, event id) of the phase's next rows missing their snapshot, after `after` (and up
    to `upto`: a chunk of `backfill_events --workers`)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    query, id_field = selectors.attempts_missing_snapshot(after=after), "event_id"
    if upto is not None:
        query = query.filter(pk__lte=upto)
    return list(query.values_list("pk", id_field)[:limit])


def missing_batch_fetch(
    *, rows: list[tuple[int, str]], limiter: Limiter, workers: int = 1
) -> tuple[set[str], list[FetchOutcome]]:
    """For a batch of (pk, event_id) rows: the ids already stored, and the others fetched
    (network only: call it outside any transaction)."""
    event_ids = list(dict.fromkeys(event_id for _, event_id in rows))
    stored = selectors.events_stored(event_ids=event_ids)
    outcomes = events_fetch_by_id(
        event_ids=[e for e in event_ids if e not in stored], limiter=limiter, workers=workers
    )
    return stored, outcomes


def missing_batch_store(*, stored: set[str], outcomes: list[FetchOutcome], tally: Tally) -> None:
    """Link what was stored, store what was fetched, remember what Fingerprint does not know
    (inside the batch's transaction)."""
    if stored:
        tally.add("already_stored", len(stored))
        snapshots_link(event_ids=stored, tally=tally)
    for outcome in outcomes:
        tally.add(outcome.outcome)
        if outcome.outcome == "unavailable":
            logger.warning("event %s unavailable: %s", outcome.event_id, outcome.error)
    unknown = [o.event_id for o in outcomes if o.outcome == NOT_FOUND]
    UnknownEvent.objects.bulk_create(
        [UnknownEvent(event_id=e) for e in unknown], ignore_conflicts=True
    )
    events_store_each(events=[o.event for o in outcomes if o.event], source="backfill", tally=tally)


def events_backfill_missing(
    *,
    limiter: Limiter,
    workers: int = 1,
    batch_size: int = 100,
    restart: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Fetch the snapshot of every attempt that has an event_id but no snapshot.

    Ids Fingerprint does not know are counted `not_found` (and remembered); ids it could not
    serve now are counted `unavailable` and picked up by the next run (the checkpoint is
    cleared when a pass completes, so a rerun starts from the top). Signups accepted while
    Fingerprint was down are verified first, by the live rules (risk.services.verification).
    """
    tally = Tally()
    verified = Counter()
    while outcomes := attempts_verify_due(limit=batch_size):
        verified.update({f"verified_{outcome}": n for outcome, n in outcomes.items()})
        if UNAVAILABLE in outcomes or sum(outcomes.values()) < batch_size:
            break

    def next_batch(state: dict) -> Batch | None:
        tally.counts = Counter(state["counts"]) + verified
        phase, after = state["phase"], state["after"]
        while not (rows := missing_rows(phase, after, batch_size)):
            if phase == PHASES[-1]:
                return None
            phase, after = PHASES[PHASES.index(phase) + 1], 0
        stored, outcomes = missing_batch_fetch(rows=rows, limiter=limiter, workers=workers)

        def write(_: dict) -> dict:
            missing_batch_store(stored=stored, outcomes=outcomes, tally=tally)
            return {"phase": phase, "after": rows[-1][0], "counts": tally.as_dict()}

        return Batch(size=len(rows), write=write)

    job_run(
        name=CHECKPOINT,
        initial={"phase": PHASES[0], "after": 0, "counts": {}},
        next_batch=next_batch,
        restart=restart,
        progress=progress,
    )
    return tally


def events_missing_preview() -> Tally:
    """--dry-run: what a run would do, without network calls or writes."""
    tally = Tally()
    counts = missing_events_count()
    tally.add("attempts_missing_snapshot", counts["attempts"])
    ids = set(selectors.attempts_missing_snapshot().values_list("event_id", flat=True))
    stored = len(selectors.events_stored(event_ids=list(ids))) if ids else 0
    tally.add("would_link_stored_events", stored)
    tally.add("would_fetch_events", len(ids) - stored)
    tally.add("would_verify_signups", unverified_count())
    return tally
