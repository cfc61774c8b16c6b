"""manage.py purge_snapshots: strip evidence older than RISK_SNAPSHOT_RETENTION_DAYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from risk.management.job_output import job_errors, summary_write
from risk.services import retention


class Command(BaseCommand):
    help = (
        "Strip raw event snapshots, DRN answers and IP addresses older than the retention "
        "window (RISK_SNAPSHOT_RETENTION_DAYS, default 90) from attempts no reviewer is "
        "waiting on. Batches commit with a checkpoint: rerun to resume. Run it daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, help="retention window in days (default: the setting; 0: keep)"
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per commit")
        parser.add_argument(
            "--dry-run", action="store_true", help="count the rows due; change nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        if options["dry_run"]:
            with job_errors():
                due = retention.snapshots_purge_due(days=options["days"])
            summary_write(self.stdout, "purge_snapshots (dry run)", due)
            return
        bar_off = True if options["no_progress"] else None
        with job_errors(), tqdm(desc="rows", unit="row", disable=bar_off) as bar:
            tally = retention.snapshots_purge_expired(
                days=options["days"], batch_size=options["batch_size"], progress=bar.update
            )
        summary_write(self.stdout, "purge_snapshots", tally.as_dict())
