"""`backfill_events --workers N` on Celery: the missing-snapshot backfill cut into chunks.

A chunk is a primary-key range (`after`, `upto`] of attempts; Celery workers run
them in parallel (risk.tasks.backfill_events_chunk_task). A chunk is safe to run twice or to
die half-way: it only looks at rows still missing their snapshot, and storing is an upsert
by event_id with "unset -> set" links (risk.services.event_store). So a worker
killed mid-chunk loses nothing (the broker delivers the chunk again, CELERY_TASK_ACKS_LATE)
and duplicates nothing. The Server API budget (`--rps`) is the Redis-shared limiter, so it
holds for all workers together.

A chunk walks the same rows (risk.selectors) and does the same batch work
(risk.services.backfill_missing) as the inline job.
"""

from __future__ import annotations

import logging
import math

from django.db import transaction

from risk import selectors
from risk.fingerprint.rate_limit import Limiter
from risk.services.backfill_missing import (
    PHASES,
    missing_batch_fetch,
    missing_batch_store,
    missing_rows,
)
from risk.services.jobs import Tally

logger = logging.getLogger(__name__)


def missing_chunks_plan(*, phase: str, chunks: int, min_size: int = 100) -> list[tuple[int, int]]:
    """About `chunks` ranges (after, upto] covering the phase's rows missing their snapshot."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    missing = selectors.attempts_missing_snapshot()
    pks = list(missing.values_list("pk", flat=True).iterator(chunk_size=10_000))
    size = max(min_size, math.ceil(len(pks) / max(1, chunks)))
    plan, after = [], 0
    for start in range(0, len(pks), size):
        upto = pks[min(start + size, len(pks)) - 1]
        plan.append((after, upto))
        after = upto
    return plan


def events_backfill_range(
    *, phase: str, after: int, upto: int, limiter: Limiter, batch_size: int = 100
) -> Tally:
    """Fetch and store the snapshots missing in one range; counts by outcome."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    tally = Tally()
    while rows := missing_rows(phase, after, batch_size, upto=upto):
        stored, outcomes = missing_batch_fetch(rows=rows, limiter=limiter)
        with transaction.atomic():
            missing_batch_store(stored=stored, outcomes=outcomes, tally=tally)
        after = rows[-1][0]
    return tally
