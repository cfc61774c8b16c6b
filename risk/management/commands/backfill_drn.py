"""manage.py backfill_drn: Device Reputation Network lookups owed to Android devices."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from risk import selectors
from risk.management.job_output import job_errors, summary_write
from risk.services import backfill_drn, jobs
from risk.shared_limits import api_limiter


class Command(BaseCommand):
    help = (
        "Look up Android devices in Fingerprint's Device Reputation Network: devices queued "
        "after a failed or skipped signup-time lookup, devices never looked up, and devices "
        "whose latest answer is older than --max-age. Resumable and safe to rerun."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-age", default="30d", help="refresh answers older than this (default 30d)"
        )
        parser.add_argument(
            "--rps",
            type=float,
            default=2.0,
            help="DRN requests per second (default 2; 0 = only the client's own limit)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count the devices due; look nothing up"
        )
        parser.add_argument(
            "--restart", action="store_true", help="ignore a saved checkpoint and start over"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        max_age = jobs.age_parse(options["max_age"])
        if max_age is None:
            raise CommandError(
                f"--max-age {options['max_age']!r}: expected an age such as 90m, 12h, 30d"
            )
        due = selectors.devices_drn_due(max_age=max_age).count()
        if options["dry_run"]:
            summary_write(self.stdout, "backfill_drn (dry run)", {"devices_due": due})
            return
        limiter = api_limiter("backfill_drn", options["rps"])
        bar_off = True if options["no_progress"] else None
        resume = "finished devices are kept; run the same command again to resume"
        with (
            job_errors(resume=resume),
            tqdm(total=due, desc="devices", unit="dev", disable=bar_off) as bar,
        ):
            tally = backfill_drn.drn_backfill(
                max_age=max_age,
                limiter=limiter,
                restart=options["restart"],
                progress=bar.update,
            )
        summary_write(self.stdout, "backfill_drn", tally.as_dict())
        if tally.counts.get("error"):
            raise CommandError(
                f"{tally.counts['error']} lookup(s) failed; those devices stay queued"
            )
