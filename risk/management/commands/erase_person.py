"""manage.py erase_person: erase one person on request, or export what is stored about them."""

from __future__ import annotations

import getpass
import json

from django.core.management.base import BaseCommand, CommandParser

from risk.management.job_output import job_errors, summary_write
from risk.services import privacy


class Command(BaseCommand):
    help = (
        "Erase a person (GDPR art. 17): anonymise the account, strip username, email and IP "
        "from their signup attempts, drop their event snapshots and DRN answers, ask "
        "Fingerprint to delete their visitors, and record an audit row. Decisions and reason "
        "codes are kept. --export prints everything stored about them as JSON instead "
        "(access requests, art. 15). See docs/privacy.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="", help="the account's username")
        parser.add_argument("--email", default="", help="an email address the person used")
        parser.add_argument("--visitor-id", default="", help="a Fingerprint visitor id")
        parser.add_argument(
            "--export", action="store_true", help="print the person's data as JSON; change nothing"
        )
        parser.add_argument("--reason", default="", help="why (request, ticket); required to erase")
        parser.add_argument(
            "--operator",
            default="",
            help="who is erasing, for the audit row (default: the OS user running the command)",
        )

    def handle(self, *args, **options) -> None:
        given = {k: options[k].strip() for k in ("username", "email", "visitor_id")}
        with job_errors():
            subject = privacy.person_find(**given)
            if options["export"]:
                export = privacy.person_export(subject=subject)
                self.stdout.write(json.dumps(export, indent=2, sort_keys=True))
                return
            erasure = privacy.person_erase(
                subject=subject,
                reason=options["reason"],
                matched_by=",".join(k for k, v in given.items() if v),
                operator=options["operator"] or _os_user(),
            )
        if subject.is_empty():
            self.stdout.write("Nothing stored about this person (already erased?).")
        counts = {table: entry["changed"] for table, entry in erasure.tables.items()}
        summary_write(self.stdout, f"erase_person (audit row #{erasure.pk})", counts)
        for entry in erasure.fingerprint:
            code = f" ({entry['code']})" if entry.get("code") else ""
            self.stdout.write(f"  fingerprint visitor deletion: {entry['outcome']}{code}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
