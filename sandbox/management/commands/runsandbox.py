import os
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sandbox.server import SandboxServer


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the local Fingerprint sandbox (Server API v4/v3, DRN, JS agent) until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--db", default="var/sandbox.sqlite3", help="SQLite file or :memory:")
        parser.add_argument("--verbose-http", action="store_true", help="log every request")

    def handle(self, *args: Any, **options: Any) -> None:
        secret_keys = [
            key.strip()
            for key in os.environ.get("SANDBOX_SECRET_KEYS", "sandbox-secret-key").split(",")
            if key.strip()
        ]
        public_key = os.environ.get("SANDBOX_PUBLIC_KEY", "sandbox-public-key")
        server = SandboxServer(
            host=options["host"],
            port=options["port"],
            db_path=options["db"],
            secret_keys=tuple(secret_keys),
            public_key=public_key,
            verbose=options["verbose_http"],
        )
        self.stdout.write(
            f"Fingerprint sandbox on {server.url} (db {options['db']}); "
            f"agent: {server.url}/agent.js; Ctrl-C to stop"
        )
        # `kill` (SIGTERM, as bin/run sends) stops as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("sandbox stopped")
