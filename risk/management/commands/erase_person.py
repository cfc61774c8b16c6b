"""manage.py erase_person: erase one person on request, list what that would touch, or export
what is stored about them."""

from __future__ import annotations

import getpass
import json

from django.core.management.base import BaseCommand, CommandParser

from risk.management.job_output import job_errors, summary_write
from risk.services import privacy


class Command(BaseCommand):
    help = (
        "Erase a person (GDPR art. 17): anonymise their account, strip username, email and IP "
        "from their signup attempts, drop their event snapshots and DRN answers, remove their "
        "visitor id everywhere, ask Fingerprint to delete the visitor of a device that was only "
        "theirs, and record an audit row. The person is the account named by --username or "
        "--email (or, when none is, the signups typed with it), never anyone an email typed "
        "into a signup would lead to. --dry-run lists every row it would change; --export "
        "prints the person's data as JSON instead. See docs/privacy.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="", help="the account's username")
        parser.add_argument("--email", default="", help="the account's email address")
        parser.add_argument("--visitor-id", default="", help="a Fingerprint visitor id")
        parser.add_argument(
            "--include-staff",
            action="store_true",
            help="a staff or superuser account may be erased too (left out otherwise)",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--dry-run", action="store_true", help="list every row it would change; change nothing"
        )
        mode.add_argument(
            "--export", action="store_true", help="print the person's data as JSON; change nothing"
        )
        parser.add_argument(
            "--reason",
            default="",
            help="why (the request, the ticket); required to erase. Kept in the audit log: "
            "write no name or contact details of the person",
        )
        parser.add_argument(
            "--operator",
            default="",
            help="who is erasing, for the audit row (default: the OS user running the command)",
        )

    def handle(self, *args, **options) -> None:
        given = {k: options[k].strip() for k in ("username", "email", "visitor_id")}
        with job_errors():
            subject = privacy.person_find(**given, include_staff=options["include_staff"])
            if subject.staff_skipped:
                self.stderr.write(
                    f"{subject.staff_skipped} staff or superuser account(s) left out: pass "
                    "--include-staff to erase them."
                )
            if options["export"]:
                export = privacy.person_export(subject=subject)
                self.stdout.write(json.dumps(export, indent=2, sort_keys=True))
                return
            if options["dry_run"]:
                self._plan(privacy.person_plan(subject=subject))
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

    def _plan(self, plan: list[dict]) -> None:
        if not plan:
            self.stdout.write("Nothing stored about this person (already erased?).")
            return
        self.stdout.write("Would change (dry run: nothing written):")
        for table in plan:
            what = (
                "theirs: exported and erased"
                if table["role"] == "theirs"
                else "other people's rows: only the person's identifiers go"
            )
            self.stdout.write(f"  {table['table']} ({what})")
            for row in table["rows"]:
                self.stdout.write(f"    #{row['id']}  {row['row']}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
