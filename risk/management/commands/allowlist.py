"""manage.py allowlist: list, add or remove allowlist entries from a shell (the console's
Allowlist entries page does the same; both write the audit log)."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from risk.models import AllowlistEntry, AllowlistKind
from risk.services.allowlist import (
    allowlist_entry_delete,
    allowlist_entry_save,
    entry_value_normalise,
)


class Command(BaseCommand):
    help = (
        "Allowlist entries (IP ranges, AS numbers, email domains, devices) lift the volume and "
        "device-limit rules and the signup throttles for signups they cover, nothing else. "
        "`list`, `add KIND VALUE --note ... [--expires YYYY-MM-DD]`, `remove KIND VALUE`. "
        "Adding an entry that exists updates its note and expiry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("list", "add", "remove"))
        parser.add_argument("kind", nargs="?", choices=AllowlistKind.values)
        parser.add_argument("value", nargs="?")
        parser.add_argument("--note", default="", help="who it is for, and why (required to add)")
        parser.add_argument("--expires", default="", help="YYYY-MM-DD or an ISO time; empty: never")

    def handle(self, *args, **options) -> None:
        if options["action"] == "list":
            for entry in AllowlistEntry.objects.order_by("kind", "value"):
                expires = f" until {entry.expires_at:%Y-%m-%d %H:%M}" if entry.expires_at else ""
                self.stdout.write(f"{entry.kind:<13}{entry.value:<32}{entry.note}{expires}")
            return
        kind, value = options["kind"], options["value"]
        if not kind or not value:
            raise CommandError(f"{options['action']} needs KIND and VALUE")
        try:
            value = entry_value_normalise(kind, value)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["action"] == "remove":
            entries = AllowlistEntry.objects.filter(kind=kind, value=value)
            if not entries:
                raise CommandError(f"no {kind} entry {value!r}")
            for entry in entries:
                allowlist_entry_delete(entry=entry, actor=None)
            self.stdout.write(f"removed {kind} {value}")
            return
        if not options["note"]:
            raise CommandError("--note is required: say who the entry is for")
        expires = _expiry(options["expires"])
        try:
            entry = AllowlistEntry.objects.get(kind=kind, value=value)
            adding = False
        except AllowlistEntry.DoesNotExist:
            entry, adding = AllowlistEntry(kind=kind, value=value), True
        entry.note, entry.expires_at = options["note"][:255], expires
        allowlist_entry_save(entry=entry, actor=None, adding=adding)
        self.stdout.write(f"{'added' if adding else 'updated'} {entry.kind} {entry.value}")


def _expiry(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--expires {text!r} is not a date like 2027-03-31") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment <= timezone.now():
        raise CommandError("--expires is in the past")
    return moment
