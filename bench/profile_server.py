"""Where a gunicorn worker's CPU goes under load: py-spy on one worker, layer by layer.

    .venv/bin/python bench/profile_server.py                  # dup refusals, 0 ms, 32 clients
    .venv/bin/python bench/profile_server.py --path bot --latency-ms 100 --clients 64

Starts the benchmark stack (sandbox, gunicorn with production settings, a fresh PostgreSQL
database, like signup_load.py), loads it with one path's signups and, once warm, has py-spy
sample one worker for `--seconds` with `--gil`: only the thread holding the GIL is sampled,
so the shares are of the Python work the worker does, not of time spent waiting. Prints each
layer's share (a stack counts for the innermost layer it reaches) and the worker's CPU over
the same window (user, system, context switches per request). py-spy is a dev dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from load import Target, fire, seed_duplicate_device
from stack import ROOT, Stack, process_tree, set_latency

# (layer, a frame that marks it): a stack belongs to the last layer whose frame it contains.
LAYERS = [
    ("gunicorn: main loop (poll, accept, hand-offs)", "gunicorn/workers/"),
    ("gunicorn: request thread (HTTP parse and write)", "ThreadWorker.handle "),
    ("Django: handler and middleware", "WSGIHandler.__call__"),
    ("DRF: dispatch around the view", "APIView.dispatch"),
    ("the view (answer, response)", "SignupView.post"),
    ("serializer: fields, password validators", "BaseSerializer.is_valid"),
    ("serializer: username query", "username_taken"),
    ("risk entry: throttles, metrics, log", "signup_verdict"),
    ("risk: the event's claim", "event_claim_read"),
    ("risk: Fingerprint fetch", "event_fetch"),
    ("risk: rules and writes", "signup_decide"),
    ("account: insert and link", "FingerprintSignupMixin.save"),
]


def layer_of(frames: list[str]) -> str:
    found = "other (stacks py-spy caught part of, idle threads)"
    for name, marker in LAYERS:
        if any(marker in frame for frame in frames):
            found = name
    return found


def worker_stats(pid: int) -> tuple[float, float, int]:
    """User and system CPU seconds, and context switches, of a process's threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    return int(fields[11]) / tick, int(fields[12]) / tick, switches


def connections_per_worker(stack: Stack) -> Counter:
    """Established client connections per gunicorn worker pid (from `ss`)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{stack.port} )"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return Counter(int(pid) for pid in re.findall(r"pid=(\d+)", out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", default="dup", choices=["dup", "bot"])
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--raw", help="also keep py-spy's raw stacks here (flamegraph input)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PROFILE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fpdjango_profile"
        ),
    )
    args = parser.parse_args()
    args.workers = args.threads = None
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not py_spy:
        raise SystemExit("py-spy is missing: .venv/bin/pip install -r requirements-dev.txt")
    stack = Stack(args).for_throughput()
    stack.start()
    try:
        set_latency(stack.sandbox_url, args.latency_ms)
        target = Target("fpdjango", stack.url, pids={"server": stack.server_pid})
        if args.path == "dup":
            target.dup_visitor = seed_duplicate_device(target, stack.sandbox_url)
        stop = threading.Event()
        feed = target.feed(stack.sandbox_url, args.path, None, chunk=200, prefill=400)
        done = Counter()

        sent = [0]
        bodies = target.bodies(feed, args.path, stop=stop.is_set)

        def next_body():
            item = bodies()
            sent[0] += item is not None
            return item

        def load() -> None:
            *_, ok, _, _ = asyncio.run(
                fire(stack.url, next_body, concurrency=args.clients, duration=None)
            )
            done["ok"] = ok

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(5)  # warm: every thread has its connections
        workers = process_tree(stack.server_pid)[1:]
        conns = connections_per_worker(stack)
        worker = max(workers, key=lambda pid: conns.get(pid, 0))  # the busiest
        before, requests_before = [worker_stats(pid) for pid in workers], sent[0]
        with tempfile.NamedTemporaryFile(suffix=".txt") as raw:
            subprocess.run(
                [py_spy, "record", "--gil", "-p", str(worker), "-d", str(int(args.seconds)),
                 "-r", "200", "-f", "raw", "-o", raw.name, "--nonblocking"],
                check=True, capture_output=True,
            )  # fmt: skip
            after, requests_after = [worker_stats(pid) for pid in workers], sent[0]
            if args.raw:
                shutil.copy(raw.name, args.raw)
            samples = Counter()
            for line in Path(raw.name).read_text().splitlines():
                stack_text, count = line.rsplit(" ", 1)
                samples[layer_of(stack_text.split(";"))] += int(count)
        stop.set()
        loader.join()
        feed.close()
    finally:
        stack.stop()
    total = sum(samples.values())
    requests = max(1, requests_after - requests_before)
    user, system, switches = (
        sum(a[i] - b[i] for a, b in zip(after, before, strict=True)) for i in range(3)
    )
    print(
        f"{args.path}, {args.latency_ms} ms upstream, {args.clients} clients, about {requests} "
        f"requests in {args.seconds:g} s. All {len(workers)} workers: "
        f"{(user + system) * 1000 / requests:.2f} ms CPU per request ({user / (user + system):.0%} "
        f"user), {switches / requests:.0f} context switches per request; the clients' "
        f"connections per worker: {[conns.get(pid, 0) for pid in workers]}"
    )
    print(f"worker {worker} (the most connections), {total} samples holding the GIL:")
    for name, _ in [*LAYERS, ("other (stacks py-spy caught part of, idle threads)", "")]:
        if samples[name]:
            print(f"  {100 * samples[name] / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
