"""manage.py verify_signups: decide the signups accepted while Fingerprint was unavailable."""

from django.core.management.base import BaseCommand, CommandParser

from risk.services.verification import attempts_verify_due, unverified_count


class Command(BaseCommand):
    help = (
        "Fetch the events of unverified signups (accepted while Fingerprint was unavailable) "
        "and decide them with the live rules: allowed accounts are activated, held ones join "
        "the review queue, the rest stay inactive. Stops when Fingerprint is still down; run "
        "it again (cron, or the periodic task) until nothing is left."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=1000, help="attempts at most")

    def handle(self, *args, **options) -> None:
        counts = attempts_verify_due(limit=max(1, options["limit"]))
        for outcome, n in sorted(counts.items()):
            self.stdout.write(f"  {outcome:<12} {n:>7}")
        left = unverified_count()
        self.stdout.write(f"  {'left':<12} {left:>7}")
        if counts.get("unavailable"):
            self.stderr.write("Fingerprint is still unavailable; run again later.")
