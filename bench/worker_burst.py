"""Keep-alive clients connecting at once: where they land, and how long their first answers take.

    .venv/bin/python bench/worker_burst.py          # ~20 s; --help for the rest

Starts gunicorn with fpdjango/gunicorn.conf.py on the test suite's probe app (it answers with
its worker's pid after `?sleep=` seconds), once with fpdjango's worker and once with stock
`gthread` as the baseline, and for each request time (0 and 100 ms) connects `--clients`
clients at once, as a proxy opening its upstream pool does. Prints how many clients each
worker holds and the first answers' p50 and max: a worker that holds more than its share
serves them from one core, and a worker that waits too long to take its share delays them
(docs/benchmarks.md, fpdjango/gunicorn_worker.py).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.test_gunicorn_worker import ask, serve_probe
from tests.test_production import stop


def burst(port: int, clients: int, sleep: float) -> tuple[list[int], float, float]:
    """Spread over the workers, first answer p50 and max (ms)."""
    go = threading.Barrier(clients)
    firsts: list[float] = []
    pids: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        go.wait()
        started = time.monotonic()
        pid, _ = ask(port, sleep=sleep, conn=conn)
        firsts.append(time.monotonic() - started)
        pids.append(pid)
        for _ in range(3):  # kept alive: the spread holds
            ask(port, sleep=sleep, conn=conn)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    firsts.sort()
    spread = sorted(collections.Counter(pids).values(), reverse=True)
    return spread, firsts[len(firsts) // 2] * 1000, firsts[-1] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.clients} clients at once on {args.workers} workers x {args.threads} threads")
    for worker in ("", "gthread"):  # "": the config's default, fpdjango's worker
        os.environ["GUNICORN_WORKER_CLASS"] = worker
        proc, port = serve_probe(workers=args.workers, threads=args.threads)
        try:
            for sleep in (0.0, 0.1):
                for _ in range(args.rounds):
                    spread, p50, worst = burst(port, args.clients, sleep)
                    print(
                        f"{worker or 'FreeThreadWorker':16} answer after {sleep * 1000:3.0f} ms:"
                        f" clients per worker {spread}, first answer p50 {p50:.0f} ms,"
                        f" max {worst:.0f} ms"
                    )
                    time.sleep(0.5)
        finally:
            stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
