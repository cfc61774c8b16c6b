"""manage.py settings_table: print the README's table of FINGERPRINT_* and RISK_* settings."""

from django.core.management.base import BaseCommand

from risk.conf import settings_table_markdown


class Command(BaseCommand):
    help = "Print the Markdown table of every FINGERPRINT_* and RISK_* setting (for README.md)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(settings_table_markdown())
