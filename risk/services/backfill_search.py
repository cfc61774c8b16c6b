"""`manage.py backfill_events --since`: pull every event of a time range from the Server API
search and store it (see risk.services.event_store), linking waiting attempts and accounts.

The range is resolved once, at the first run, and stored in the checkpoint with the last
committed pagination_key; the checkpoint is named after the range as the operator wrote it
(`7d` stays `7d`), so a rerun of the same command resumes the same result set even when a
relative `--since` would resolve to a later moment now. `--restart` resolves it afresh.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

from django.utils import timezone

from risk import selectors
from risk.clients import fingerprint_client
from risk.fingerprint.errors import NOT_FOUND, FingerprintError, fetch_failure
from risk.fingerprint.rate_limit import Limiter
from risk.services.event_store import events_store_each
from risk.services.jobs import (
    BackfillError,
    Batch,
    Progress,
    Tally,
    age_parse,
    job_run,
    moment_parse,
    permit,
)


def _moment_key(value: str) -> str:
    """A relative age keeps its text; a date/time becomes epoch ms (one key per instant)."""
    if not value:
        return "now"
    if age_parse(value) is not None:
        return value.strip()
    return str(int(moment_parse(value).timestamp() * 1000))


def search_checkpoint_name(*, since: str, until: str = "", visitor: str = "") -> str:
    return f"backfill_events:search:{_moment_key(since)}:{_moment_key(until)}:{visitor or '*'}"


def _page_fetch(*, limiter: Limiter, attempts: int = 5, **params):
    """One search page; Fingerprint being briefly down or rate limiting is retried with backoff."""
    for attempt in range(attempts):
        permit(limiter)
        try:
            return fingerprint_client().search_events(limit=100, **params)
        except FingerprintError as exc:
            if fetch_failure(exc) == NOT_FOUND:
                raise BackfillError(
                    "search_refused", f"Fingerprint refused the search: {exc}"
                ) from exc
            if attempt == attempts - 1:
                raise BackfillError(
                    "fingerprint_unavailable", f"search failed {attempts} times: {exc}"
                ) from exc
            time.sleep(min(10.0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


def events_backfill_search(
    *,
    since: str,
    until: str = "",
    visitor: str = "",
    limiter: Limiter,
    restart: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Tally:
    """Pull every event of [since, until] (ISO 8601 or an age such as 7d; until "" = now)."""
    start, end = moment_parse(since), moment_parse(until) if until else None
    initial = {
        "start_ms": int(start.timestamp() * 1000),
        "end_ms": int((end or timezone.now()).timestamp() * 1000),
        "pagination_key": None,
        "pages": 0,
        "counts": {},
    }
    if initial["start_ms"] > initial["end_ms"]:
        raise BackfillError("invalid_range", "--since is after --until")
    tally = Tally()
    pending: dict[str, Future] = {}

    def fetch(state: dict, key: str | None):
        return _page_fetch(
            limiter=limiter,
            start=state["start_ms"],
            end=state["end_ms"],
            visitor_id=visitor or None,
            pagination_key=key,
        )

    def next_batch(state: dict) -> Batch | None:
        tally.counts = Counter(state["counts"])
        key = state["pagination_key"]
        page = (pending.pop(key) if key in pending else ahead.submit(fetch, state, key)).result()
        if page.pagination_key:
            # Fetched while this page is written: the HTTP and database waits overlap.
            pending[page.pagination_key] = ahead.submit(fetch, state, page.pagination_key)

        def write(state: dict) -> dict:
            if dry_run:
                ids = [e.event_id for e in page.events]
                stored = len(selectors.events_stored(event_ids=ids))
                tally.add("would_store_new", len(ids) - stored)
                tally.add("would_check_stored", stored)
            else:
                events_store_each(events=page.events, source="backfill", tally=tally)
            return {
                **state,
                "pagination_key": page.pagination_key,
                "pages": state["pages"] + 1,
                "counts": tally.as_dict(),
            }

        return Batch(size=len(page.events), write=write, last=not page.pagination_key)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-search") as ahead:
        try:
            job_run(
                name=search_checkpoint_name(since=since, until=until, visitor=visitor),
                initial=initial,
                next_batch=next_batch,
                restart=restart,
                persist=not dry_run,
                progress=progress,
            )
        finally:
            for future in pending.values():
                future.cancel()
    return tally
