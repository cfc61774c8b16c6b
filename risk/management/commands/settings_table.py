"""manage.py settings_table: print the README's table of FINGERPRINT_* and RISK_* settings."""

import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from risk.conf import settings_table_markdown

MARKERS = re.compile(
    r"(<!-- settings-table:start -->\n).*?(\n<!-- settings-table:end -->)", re.DOTALL
)


class Command(BaseCommand):
    help = "Print the Markdown table of every FINGERPRINT_* and RISK_* setting (for README.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--write", action="store_true", help="replace the table in README.md instead"
        )

    def handle(self, *args, **options) -> None:
        table = settings_table_markdown()
        if not options["write"]:
            self.stdout.write(table)
            return
        readme = Path(settings.BASE_DIR) / "README.md"
        text = readme.read_text()
        updated, found = MARKERS.subn(lambda m: m.group(1) + table + m.group(2), text)
        if not found:
            self.stderr.write("README.md has no settings-table markers")
            raise SystemExit(1)
        readme.write_text(updated)
        self.stdout.write("README.md: settings table updated")
