"""The cheapest requests fpdjango's stack can answer: the floor under every refusal.

    .venv/bin/python bench/request_floor.py            # ~30 s; --help for the rest

Starts the benchmark stack (fresh PostgreSQL database, sandbox, gunicorn with production
settings, like compare_seed.py) and fires, from 32 keep-alive clients for 8 s each:

* `POST /api/create-account` with a malformed `requestId`: gunicorn, every middleware, DRF
  and the serializer, answered 400 with no database or Fingerprint call;
* `POST /healthz` without a CSRF token: refused 403 by the middleware before any view.

Prints the rate and gunicorn's CPU per request (from /proc). docs/benchmarks.md compares it
with the seed's whole refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from load import FLOOR_BODY, fire
from stack import Stack, proc_cpu_s, process_tree

CASES = {
    "serializer 400": ("/api/create-account", FLOOR_BODY, 400),
    "middleware 403": ("/healthz", b"{}", 403),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "FLOOR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fpdjango_floor"
        ),
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS")
    args = parser.parse_args()
    stack = Stack(args).for_throughput()
    try:
        stack.start()
        for name, (path, body, status) in CASES.items():
            item = (body, lambda got, _body, want=status: got == want)
            pids = process_tree(stack.server_pid)
            cpu0, started = proc_cpu_s(pids), time.perf_counter()
            _, statuses, ok, elapsed, _ = asyncio.run(
                fire(
                    stack.url,
                    lambda item=item: item,
                    concurrency=args.clients,
                    duration=args.seconds,
                    path=path,
                )
            )
            cpu = proc_cpu_s(pids) - cpu0
            print(
                f"{name:15} {path:20} {dict(statuses)} {ok / elapsed:7.0f}/s "
                f"{cpu * 1000 / max(ok, 1):5.2f} ms gunicorn CPU per request "
                f"({time.perf_counter() - started:.0f} s)"
            )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
