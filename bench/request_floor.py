"""The cheapest requests fpdjango's stack can answer: the floor under every refusal.

    .venv/bin/python bench/request_floor.py            # ~30 s; --help for the rest

Starts the benchmark stack (fresh PostgreSQL database, sandbox, gunicorn with production
settings, like compare_seed.py) and fires, from 32 keep-alive clients for 8 s each:

* `POST /api/create-account` with a malformed `requestId`: gunicorn, every middleware, DRF
  and the serializer, answered 400 with no Fingerprint call or write (its one query is the
  username check);
* `POST /healthz` without a CSRF token: refused 403 by the middleware before any view.

Prints the rate and gunicorn's CPU per request (from /proc). docs/benchmarks.md compares it
with the seed's whole refusal.
"""

from __future__ import annotations

import argparse
import os

from load import FLOOR_BODY, Target, run_floor
from stack import Stack

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
        target = Target("fpdjango", stack.url, pids={"server": stack.server_pid})
        for name, (path, body, status) in CASES.items():
            run = run_floor(
                target,
                concurrency=args.clients,
                requests=10**9,
                duration=args.seconds,
                url_path=path,
                body=body,
                expect=(status, b""),
            )
            print(
                f"{name:15} {path:20} {run.statuses} {run.rps:7.0f}/s "
                f"{run.server_cpu_ms_per_req:5.2f} ms gunicorn CPU per request"
                f" ({run.seconds:.0f} s)"
            )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
