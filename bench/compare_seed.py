"""fpdjango against the seed quickstart, side by side in one run (docs/benchmarks.md).

    python3 -m venv /tmp/seedvenv && /tmp/seedvenv/bin/pip install \\
        -r ../shared/anchors/seed_quickstart/requirements.txt          # once, as its README says
    .venv/bin/python bench/compare_seed.py                          # ~6 minutes
    .venv/bin/python bench/compare_seed.py --requests 300 --max-seconds 20   # a quick look
    .venv/bin/python bench/compare_seed.py --only flood --targets fpdjango    # one scenario

One sandbox (`manage.py runsandbox`, in memory; it serves the v3 paths the seed's SDK calls)
feeds both servers: the seed (uvicorn, SQLite, run in place from its own venv) and fpdjango
(gunicorn with fpdjango/gunicorn.conf.py, production settings, a fresh PostgreSQL database).
Both get the same request, `POST /api/create-account {requestId, username, password}`, from
the same asyncio load generator (bench/load.py), one server at a time, `--requests` per
scenario (or `--max-seconds`, whichever ends first):

    0 ms upstream, 32 clients    dup, bot, accept  (accept vs the Argon2id limit of this run)
    100 ms upstream, 64 clients  dup, bot
    one-device flood             a legitimate user's p99 (`--legit-clients` new humans signing
                                 up) alone, then while 64 clients send the duplicate device

    floor (fpdjango only)        a malformed requestId, answered 400 before any Fingerprint
                                 call or write (one query: the username check): the
                                 serving stack's own cost, which
                                 bounds the 0 ms ratio (report.py prints the arithmetic)

`dup` is a device that already has its account (seed: 429, fpdjango: 403 signup_denied), `bot`
a new bad bot each time (403 both), `accept` a new human (seed: 200, fpdjango: 201 created).
A measured run's events are all made before its clock starts (`--requests` of them; a run
that lasts longer than RISK_MAX_EVENT_AGE_S, 60 s, would see stale events at its end): making
events is the load generator's work, and done during the run it took the cores from whichever
server used both. The flood, which runs for a duration, still makes them as it goes.
An answer counts as ok only with the expected status and body. Each measured run follows its
own warm-up of bot refusals (`warm_up`). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import re
import sys
from dataclasses import asdict
from pathlib import Path

from load import (
    EventFeed,
    Probe,
    Target,
    fire,
    generator_ceiling,
    run_floor,
    run_path,
    seed_duplicate_device,
)
from report import print_comparison
from stack import SEED_DIR, SeedServer, Stack, argon2_timing, gunicorn_config, set_latency, uptime

SEED_EXPECT = {
    "dup": (429, b"Operation failed"),
    "bot": (403, b"Request blocked"),
    "accept": (200, b'"ok"'),
}
FPDJANGO_EXPECT = {
    "dup": (403, b"signup_denied"),
    "bot": (403, b"signup_denied"),
    "accept": (201, b'"created"'),
}
# Events made ahead, topped up as they go: a slow run must not reach RISK_MAX_EVENT_AGE_S (60 s)
FRESH_CHUNK = 64
# (upstream latency ms, clients, paths)
SCENARIOS = [(0, 32, ("dup", "bot", "accept")), (100, 64, ("dup", "bot"))]


def flood_run(target: Target, sandbox_url: str, latency_ms: int, args) -> dict:
    """A legitimate user's latency alone, then under a one-device flood of --flood-clients."""

    def feed_of(path: str, total: int | None) -> EventFeed:
        return target.feed(sandbox_url, path, total, chunk=FRESH_CHUNK, prefill=FRESH_CHUNK * 2)

    source = target.bodies

    def shoot(next_body, clients: int):
        return fire(
            target.url,
            next_body,
            concurrency=clients,
            duration=args.max_seconds,
            path=target.endpoint,
        )

    legit = feed_of("accept", args.legit_requests)
    probe = Probe(target.pids)
    alone = probe.result(
        "legit",
        latency_ms,
        args.legit_clients,
        *asyncio.run(shoot(source(legit, "accept"), args.legit_clients)),
        target.name,
    )
    legit.close()

    async def both():
        flood_task = asyncio.ensure_future(shoot(source(flood, "dup"), args.flood_clients))
        legit_answers = await shoot(
            source(legit, "accept", stop=flood_task.done), args.legit_clients
        )
        return await flood_task, legit_answers

    flood, legit = feed_of("dup", args.requests), feed_of("accept", None)
    probe, flood_probe = Probe(target.pids), Probe({})
    flood_answers, legit_answers = asyncio.run(both())
    flooded = probe.result(
        "legit+flood", latency_ms, args.legit_clients, *legit_answers, target.name
    )
    flood_result = flood_probe.result(
        "flood", latency_ms, args.flood_clients, *flood_answers, target.name
    )
    flood.close()
    legit.close()
    return {"alone": asdict(alone), "flooded": asdict(flooded), "flood": asdict(flood_result)}


def warm_up(target: Target, sandbox_url: str, latency_ms: int, clients: int, requests=64):
    """Bot refusals right before a measured run, so that it measures the steady state. The
    other target's run in between lasts up to --max-seconds (the seed's 100 ms runs take 60 s):
    long enough for every fpdjango thread's database connection to pass DB_CONN_MAX_AGE, and a
    run that begins with 64 reconnections measures them in its p99."""
    run_path(target, sandbox_url, "bot", latency_ms, concurrency=clients, requests=requests)


def logged_errors(log: Path) -> dict:
    """Exception lines in fpdjango's log (the cause of any 5xx), counted."""
    found = collections.Counter(
        line.strip()[:200]
        for line in log.read_text(errors="replace").splitlines()
        if re.match(r"^[\w.]+(Error|Exception): ", line)
    )
    return dict(found.most_common(10))


def _target_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = set(names) - {"seed", "fpdjango"}
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected seed and/or fpdjango, got {value!r}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seed-python",
        default=os.environ.get("SEED_PYTHON", "/tmp/seedvenv/bin/python"),
        help="the seed venv's python (its README: /tmp/seedvenv)",
    )
    parser.add_argument(
        "--seed-dir", default=str(SEED_DIR), help="the seed quickstart (run in place)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "COMPARE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fpdjango_compare_seed"
        ),
        help="PostgreSQL database for fpdjango, dropped and recreated",
    )
    parser.add_argument("--requests", type=int, default=1200, help="requests per scenario")
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="time bound per scenario and server"
    )
    parser.add_argument("--flood-latency-ms", type=int, default=100)
    parser.add_argument("--flood-clients", type=int, default=64)
    parser.add_argument("--legit-clients", type=int, default=4)
    parser.add_argument(
        "--legit-requests", type=int, default=200, help="legitimate signups without the flood"
    )
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS for fpdjango")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS for fpdjango")
    parser.add_argument(
        "--only",
        choices=("refusals", "flood"),
        help="run only the 0/100 ms scenarios, or only the one-device flood (a quicker look)",
    )
    parser.add_argument(
        "--targets",
        default="seed,fpdjango",
        type=_target_names,
        help="comma-separated: seed, fpdjango or both (ratios need both)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else print
    stack, seed = Stack(args).for_throughput(), None
    try:
        log(f"starting the sandbox and gunicorn on {args.database_url}; targets: {args.targets}")
        stack.start()
        sandbox_url = stack.sandbox_url
        targets = []
        if "seed" in args.targets:
            seed = SeedServer(args.seed_python, sandbox_url, Path(args.seed_dir))
            seed.start()
            targets.append(
                Target(
                    "seed",
                    seed.url,
                    endpoint="/api/create-account",
                    id_field="requestId",
                    expect=SEED_EXPECT,
                    pids={"server": seed.pid, "sandbox": stack.sandbox_pid},
                )
            )
        if "fpdjango" in args.targets:
            targets.append(
                Target(
                    "fpdjango",
                    stack.url,
                    endpoint="/api/create-account",
                    id_field="requestId",
                    expect=FPDJANGO_EXPECT,
                    pids={
                        "server": stack.server_pid,
                        "sandbox": stack.sandbox_pid,
                        "database_url": args.database_url,
                    },
                )
            )
        log("measuring the load generator and Argon2id")
        generator = generator_ceiling(64)
        argon2 = argon2_timing(stack.env)
        set_latency(sandbox_url, 0)
        for target in targets:
            target.dup_visitor = seed_duplicate_device(target, sandbox_url)
        results = []
        for latency_ms, clients, paths in SCENARIOS if args.only != "flood" else ():
            set_latency(sandbox_url, latency_ms)
            for path in paths:
                for target in targets:
                    log(f"  {latency_ms} ms, {clients} clients, {path}: {target.name}")
                    warm_up(target, sandbox_url, latency_ms, clients)
                    result = run_path(
                        target,
                        sandbox_url,
                        path,
                        latency_ms,
                        concurrency=clients,
                        requests=args.requests,
                        duration=args.max_seconds,
                        chunk=FRESH_CHUNK,
                        prefill=args.requests,
                    )
                    results.append(asdict(result))
        floor = None
        fpdjango = next((t for t in targets if t.name == "fpdjango"), None)
        if fpdjango is not None and args.only != "flood":
            log("  floor: fpdjango's cheapest answer (400, no Fingerprint call, no write)")
            floor = asdict(run_floor(fpdjango, concurrency=32, requests=args.requests * 4))
        set_latency(sandbox_url, args.flood_latency_ms)
        floods = {}
        for target in targets if args.only != "refusals" else ():
            log(f"  {args.flood_latency_ms} ms, one-device flood: {target.name}")
            warm_up(target, sandbox_url, args.flood_latency_ms, args.flood_clients, requests=256)
            floods[target.name] = flood_run(target, sandbox_url, args.flood_latency_ms, args)
        set_latency(sandbox_url, 0)
        report = {
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "kernel": platform.release(),
            },
            "server": {"fpdjango": gunicorn_config(stack.env), "logs": str(stack.logdir)},
            "settings": {k: v for k, v in vars(args).items() if k != "json"},
            "generator": generator,
            "argon2": argon2,
            "results": results,
            "floor": floor,
            "flood": floods,
            "fpdjango_errors": logged_errors(stack.logdir / "gunicorn.log"),
            "uptime_end": uptime(),
        }
    finally:
        if seed is not None:
            seed.stop()
        stack.stop()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_comparison(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
