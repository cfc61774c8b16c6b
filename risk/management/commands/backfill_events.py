"""manage.py backfill_events: fetch missing event snapshots, or pull a time range of events."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from risk.background import tasks_run_inline
from risk.management.job_output import job_errors, summary_write
from risk.services import backfill_chunks, backfill_missing, backfill_search, jobs
from risk.services.verification import attempts_verify_due
from risk.shared_limits import SERVER_API_BUDGET, api_limiter

# Chunks per worker: small chunks spread evenly and lose little when a worker dies.
CHUNKS_PER_WORKER = 4


def backfill_chunks_run(*, workers: int, rps: float, batch_size: int, out) -> jobs.Tally:
    """Enqueue the missing-snapshot backfill as chunks for Celery workers and wait for them."""
    # Celery is an extra: only this path needs it.
    from celery import group

    from risk.tasks import backfill_events_chunk_task

    counts: Counter = Counter()
    # Signups accepted while Fingerprint was down are decided by the rules first, here.
    counts.update({f"verified_{k}": n for k, n in attempts_verify_due(limit=10_000).items()})
    for phase in backfill_chunks.PHASES:
        plan = backfill_chunks.missing_chunks_plan(
            phase=phase, chunks=workers * CHUNKS_PER_WORKER, min_size=batch_size
        )
        out.write(f"{phase}: enqueued {len(plan)} chunk(s) for Celery workers")
        if not plan:
            continue
        result = group(
            backfill_events_chunk_task.s(phase, after, upto, rps, batch_size)
            for after, upto in plan
        ).apply_async()
        try:
            chunks = result.get(disable_sync_subtasks=False)
        except Exception as exc:  # a chunk failed for good (after its retries)
            raise jobs.BackfillError(
                "chunk_failed",
                f"a chunk failed on a worker ({type(exc).__name__}: {exc}); rows stored so "
                "far are kept, run the command again to finish",
            ) from exc
        for chunk in chunks:
            counts.update(chunk)
    return jobs.Tally(counts)


class Command(BaseCommand):
    help = (
        "Fetch the Fingerprint event snapshots that signup attempts are missing (taken while "
        "Fingerprint was down, or imported), or with --since pull every event of a time range "
        "from the Server API search. Upserts by event_id and links devices and attempts. "
        "Idempotent and resumable: an interrupted run continues where it stopped when started "
        "again with the same options."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            help="search mode: start of the window (ISO 8601, UTC if no zone; or an age: 24h, 7d)",
        )
        parser.add_argument(
            "--until", help="search mode: end of the window (default: now; fixed at the first run)"
        )
        parser.add_argument("--visitor", default="", help="search mode: only this visitor_id")
        parser.add_argument(
            "--rps",
            type=float,
            default=2.0,
            help="Fingerprint requests per second, all threads together (default 2; 0 = no "
            "limit). Leave room for live signups on the same API key.",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="default 1. With a Celery broker (REDIS_URL) and N > 1, the missing-snapshot "
            "backfill is cut into chunks that Celery workers run (the command waits for them); "
            "without a broker, N threads fetch events by id in this process",
        )
        parser.add_argument("--batch-size", type=int, default=100, help="rows per commit")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be done; write nothing"
        )
        parser.add_argument(
            "--restart", action="store_true", help="ignore a saved checkpoint and start over"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        if options["workers"] < 1 or options["batch_size"] < 1:
            raise CommandError("--workers and --batch-size must be at least 1")
        if (options["until"] or options["visitor"]) and not options["since"]:
            raise CommandError("--until and --visitor need --since (search mode)")
        limiter = api_limiter(SERVER_API_BUDGET, options["rps"])
        bar_off = True if options["no_progress"] else None  # None: tqdm hides it off a TTY
        with job_errors():
            if options["since"]:
                with tqdm(desc="events", unit="ev", disable=bar_off) as bar:
                    tally = backfill_search.events_backfill_search(
                        since=options["since"],
                        until=options["until"] or "",
                        visitor=options["visitor"],
                        limiter=limiter,
                        restart=options["restart"],
                        dry_run=options["dry_run"],
                        progress=bar.update,
                    )
            elif options["dry_run"]:
                tally = backfill_missing.events_missing_preview()
            elif options["workers"] > 1 and not tasks_run_inline():
                tally = backfill_chunks_run(
                    workers=options["workers"],
                    rps=options["rps"],
                    batch_size=options["batch_size"],
                    out=self.stdout,
                )
            else:
                missing = backfill_missing.missing_events_count()
                total = sum(missing.values())
                with tqdm(total=total, desc="rows", unit="row", disable=bar_off) as bar:
                    tally = backfill_missing.events_backfill_missing(
                        limiter=limiter,
                        workers=options["workers"],
                        batch_size=options["batch_size"],
                        restart=options["restart"],
                        progress=bar.update,
                    )
        title = "backfill_events (dry run)" if options["dry_run"] else "backfill_events"
        summary_write(self.stdout, title, tally.as_dict())
        unavailable = tally.counts.get("unavailable", 0)
        if unavailable:
            raise CommandError(
                f"{unavailable} event(s) could not be fetched (Fingerprint unavailable); "
                "run again later to retry them"
            )
