"""Time `manage.py backfill_events --since ...` pulling 100,000 events from the sandbox.

    .venv/bin/python bench/backfill_events.py [--events 100000] [--db fpdjango_bench_backfill]

1. starts an in-process sandbox (its own SQLite file under var/) and inserts the events with
   the control API's bulk path (SandboxControl.bulk_events: 100 visitors, spread over an hour,
   a day old so nothing else falls in the window);
2. drops and recreates a fresh PostgreSQL database (default `fpdjango_bench_backfill`) and
   migrates it;
3. runs the command in a subprocess (as an operator would) with `--rps 0` (no client-side
   limit: the sandbox has no quota) and prints events/s and the stored row counts.

Needs PostgreSQL on 127.0.0.1:5432 (user postgres). Record `uptime` next to the figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack import psql  # noqa: E402

from sandbox.control import SandboxControl  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", default="fpdjango_bench_backfill")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server = SandboxServer(host="127.0.0.1", port=0, db_path=str(Path(tmp) / "sandbox.db"))
        server.start()
        try:
            control = SandboxControl(server.url, timeout=600)
            started = time.monotonic()
            control.bulk_events(args.events, visitors=100, age_s=86_400, spread_s=3600)
            print(f"sandbox: {args.events:,} events in {time.monotonic() - started:.1f}s")

            psql(f'DROP DATABASE IF EXISTS "{args.db}"')
            psql(f'CREATE DATABASE "{args.db}"')
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "fpdjango.test_settings",
                "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
                "FINGERPRINT_API_URL": server.url,
                "FINGERPRINT_SECRET_API_KEY": "sandbox-secret-key",
                "LOG_LEVEL": "WARNING",
            }
            manage = [sys.executable, str(ROOT / "manage.py")]
            subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)

            now = datetime.now(UTC)
            since = (now - timedelta(days=1, hours=2)).isoformat()
            until = (now - timedelta(hours=23)).isoformat()
            command = [*manage, "backfill_events", "--since", since, "--until", until]
            started = time.monotonic()
            subprocess.run([*command, "--rps", "0", "--no-progress"], env=env, check=True, cwd=ROOT)
            elapsed = time.monotonic() - started
            print(f"backfill_events: {args.events:,} events in {elapsed:.1f}s "
                  f"= {args.events / elapsed:,.0f} events/s (process start included)")  # fmt: skip
            count = (
                "SELECT (SELECT count(*) FROM risk_fingerprintevent), "
                "(SELECT count(*) FROM risk_device)"
            )
            out = subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", args.db, "-tAc", count],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            events, devices = out.stdout.strip().split("|")
            print(f"stored: {events} events, {devices} devices")
            assert int(events) == args.events, "not every event was stored"
            with open("/proc/loadavg") as load:
                print(f"load average: {load.read().split()[:3]}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
