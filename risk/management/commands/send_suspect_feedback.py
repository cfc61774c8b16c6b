"""manage.py send_suspect_feedback: tell Fingerprint the suspect flags reviewers' decisions owe."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from risk.management.job_output import summary_write
from risk.services.feedback import RETRY, suspect_feedback_send_owed


class Command(BaseCommand):
    help = (
        "Send the suspect feedback that reviewers' decisions owe Fingerprint (a rejection or a "
        "device block marks the events involved as suspect, an approval or unblock takes it "
        "back). With a Celery broker a worker sends it; without one, run this (cron) to send "
        "it. Idempotent: what Fingerprint already has is not sent again. Exits non-zero when "
        "Fingerprint was unavailable for some: run it again later."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=1000, help="events at most")

    def handle(self, *args, **options) -> None:
        counts = suspect_feedback_send_owed(limit=max(1, options["limit"]))
        summary_write(self.stdout, "send_suspect_feedback", dict(sorted(counts.items())))
        if counts.get(RETRY):
            raise CommandError(
                f"{counts[RETRY]} event(s) could not be reported (Fingerprint unavailable or "
                "rate limited); run the command again later"
            )
