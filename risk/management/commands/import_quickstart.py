"""manage.py import_quickstart PATH: accounts from Fingerprint's FastAPI quickstart database."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from risk.management.job_output import RESUME, job_errors, summary_write
from risk.services import importing


class Command(BaseCommand):
    help = (
        "Import the `accounts` table (id, username, password, visitorId) of Fingerprint's "
        "FastAPI quickstart SQLite database: one account per row, linked to its device, with "
        "the plaintext password hashed by the project's hasher (or made unusable with "
        "--reset-passwords). Existing usernames are skipped and reported. Devices with more "
        "accounts than RISK_MAX_ACCOUNTS_PER_DEVICE land in the review queue (accounts inactive "
        "until approved). Resumable and safe to rerun. Destroy the plaintext file afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the quickstart's SQLite database file")
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="do not carry passwords over: accounts get unusable passwords (users reset them)",
        )
        parser.add_argument(
            "--keep-active",
            action="store_true",
            help="keep accounts on over-limit devices active while they wait for review",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="threads hashing passwords (default: CPU count)",
        )
        parser.add_argument("--batch-size", type=int, default=200, help="rows per commit")
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be imported; write nothing"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        if options["workers"] < 1 or options["batch_size"] < 1:
            raise CommandError("--workers and --batch-size must be at least 1")
        with job_errors():
            source = importing.QuickstartFile(options["path"])
        try:
            plan = importing.quickstart_plan(source=source)
            if options["dry_run"]:
                summary_write(
                    self.stdout,
                    "import_quickstart (dry run: nothing written)",
                    {
                        "rows": plan.total_rows,
                        "would_import": plan.importable,
                        "devices_over_limit": len(plan.review_visitors),
                        **plan.skipped.as_dict(),
                    },
                )
                return
            bar_off = True if options["no_progress"] else None
            with tqdm(total=source.count(), desc="rows", unit="row", disable=bar_off) as bar:
                tally = importing.quickstart_import(
                    source=source,
                    plan=plan,
                    reset_passwords=options["reset_passwords"],
                    keep_active=options["keep_active"],
                    workers=options["workers"],
                    batch_size=options["batch_size"],
                    progress=bar.update,
                )
        except KeyboardInterrupt as exc:
            raise CommandError(f"interrupted: {RESUME}") from exc
        finally:
            source.close()
        summary_write(self.stdout, "import_quickstart", tally.as_dict())
        self.stdout.write(
            self.style.WARNING(
                f"{options['path']} holds plaintext passwords: destroy it now "
                f"(e.g. `shred -u {options['path']}`) and any copies or backups of it."
            )
        )
