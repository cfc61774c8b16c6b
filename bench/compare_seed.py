"""fpdjango against the seed quickstart, side by side in one run, as deployed (docs/benchmarks.md).

    apt-get install -y nginx                                  # once: Debian's package
    python3 -m venv /tmp/seedvenv && /tmp/seedvenv/bin/pip install \\
        -r ../shared/anchors/seed_quickstart/requirements.txt   # once, as its README says
    .venv/bin/python bench/compare_seed.py                      # seed and this checkout
    .venv/bin/python bench/compare_seed.py --baseline-checkout ../wt-annex   # and a baseline
    .venv/bin/python bench/compare_seed.py --requests 300 --max-seconds 15   # a quick look
    .venv/bin/python bench/compare_seed.py --only flood --targets stock      # one scenario

One sandbox (`manage.py runsandbox`, in memory; it serves the v3 paths the seed's SDK calls)
feeds every server:

    seed      the seed quickstart (uvicorn, SQLite), run in place from its own venv, as its
              README runs it: nothing in front
    stock     this checkout, deployed as docs/deployment.md says: nginx (keep-alive upstream
              pool, X-Forwarded-For appended, X-Forwarded-Proto https) in front of gunicorn
              started the stock way (`-c fpdjango/gunicorn.conf.py --bind --workers --threads`),
              production settings, RISK_TRUSTED_PROXY_COUNT=1, a fresh PostgreSQL database
    baseline  with --baseline-checkout: another checkout of fpdjango (the annex, the commit
              before its deletion) the same way, its own nginx and database, the same
              workers x threads given the way that checkout reads them (GUNICORN_*)

All get the same `POST /api/create-account {requestId, username, password}` from the same
asyncio load generator (bench/load.py, bound to 127.0.0.2: the events carry that address, and
fpdjango must read it from X-Forwarded-For), one server at a time, `--requests` per scenario
or `--max-seconds`, whichever ends first:

    0 ms upstream, 32 clients    dup, bot, accept
    100 ms upstream, 64 clients  dup, bot
    one-device flood             a legitimate user's p99 (`--legit-clients` new humans signing
                                 up) alone, then while `--flood-clients` send the duplicate device

Each scenario runs every server back to back, the fpdjango servers on either side of the seed
and in turns (stock, seed, baseline; then baseline, seed, stock; ...), so that every ratio
comes from the same minutes. Each measured run follows its own warm-up of bot refusals. Before
an fpdjango server's turn the other's idle database connections are closed
(`release_connections`): this host's PostgreSQL allows 100, two servers of 64 threads would
hold 128.

`dup` is a device that already has its account (seed: 429, fpdjango: 403 signup_denied), `bot`
a new bad bot each time (403 both), `accept` a new human (seed: 200, fpdjango: 201 created).
A measured run's events are made before its clock starts (`--requests` of them); the flood
makes them as it goes. An answer counts as ok only with the expected status and body. CPU
per answer is read from /proc: the server's processes, its nginx, the sandbox, and the
PostgreSQL backends of its database. Loopback only.
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
import tempfile
from dataclasses import asdict
from pathlib import Path

from load import EventFeed, Probe, Target, fire, generator_ceiling, run_path, seed_duplicate_device
from report import print_comparison
from stack import (
    ROOT,
    SEED_DIR,
    THROUGHPUT_SETTINGS,
    Fpdjango,
    Sandbox,
    SeedServer,
    argon2_timing,
    drop_database,
    release_connections,
    set_latency,
    uptime,
)

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
# (upstream latency ms, clients, path), in the order they run
BLOCKS = [
    (0, 32, "dup"),
    (0, 32, "bot"),
    (0, 32, "accept"),
    (100, 64, "dup"),
    (100, 64, "bot"),
]


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


def warm_up(target: Target, sandbox_url: str, latency_ms: int, clients: int) -> None:
    """Bot refusals right before a measured run, so that it measures the steady state: every
    fpdjango thread has its database connection back (closed during the other server's turn,
    `take_turn`) and nginx its upstream connections. The seed keeps no connections; a few
    requests do."""
    requests = clients * 2 if target.pids.get("database_url") else 16
    run_path(target, sandbox_url, "bot", latency_ms, concurrency=clients, requests=requests)


def take_turn(target: Target, targets: list[Target]) -> None:
    """Before `target` runs, close the other fpdjango servers' idle database connections (see
    the module doc). Never the next server's own: the annex checks a connection's health only
    after it has idled a second."""
    for other in targets:
        if other is not target and other.pids.get("database_url"):
            release_connections(other.pids["database_url"])


def turns(targets: list[Target], block: int) -> list[Target]:
    """The order of one block: the fpdjango servers on either side of the seed, swapping
    sides from one block to the next."""
    by_name = {t.name: t for t in targets}
    fpdjango = [t for t in targets if t.name != "seed"]
    if block % 2:
        fpdjango.reverse()
    order = [*fpdjango[:1], *([by_name["seed"]] if "seed" in by_name else []), *fpdjango[1:]]
    return order


def logged_errors(log: Path) -> dict:
    """Exception lines in a gunicorn log (the cause of any 5xx), counted."""
    if not log.exists():
        return {}
    found = collections.Counter(
        line.strip()[:200]
        for line in log.read_text(errors="replace").splitlines()
        if re.match(r"^[\w.]+(Error|Exception): ", line) or "[ERROR]" in line
    )
    return dict(found.most_common(10))


def proxy_errors(log: Path) -> dict:
    """nginx's [error] lines (a 502's cause), counted by what they say."""
    if not log.exists():
        return {}
    found = collections.Counter(
        re.sub(r"^.*\[error\] [\d#]+: \*\d+ ", "", line).split(", client:")[0][:120]
        for line in log.read_text(errors="replace").splitlines()
        if "[error]" in line
    )
    return dict(found.most_common(5))


def _target_names(value: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = set(names) - {"seed", "stock", "baseline"}
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected seed, stock and/or baseline, got {value!r}")
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
            "COMPARE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fp_bench_compare_stock"
        ),
        help="PostgreSQL database for this checkout, dropped and recreated",
    )
    parser.add_argument(
        "--baseline-checkout",
        type=Path,
        help="another fpdjango checkout to run beside this one (e.g. the commit before a change)",
    )
    parser.add_argument(
        "--baseline-name", default="annex", help="its name in the report (default: annex)"
    )
    parser.add_argument(
        "--baseline-database-url",
        default=os.environ.get(
            "COMPARE_BASELINE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/fp_bench_compare_baseline",
        ),
        help="its PostgreSQL database, dropped and recreated",
    )
    parser.add_argument("--requests", type=int, default=1200, help="requests per scenario")
    parser.add_argument(
        "--max-seconds", type=float, default=45.0, help="time bound per scenario and server"
    )
    parser.add_argument("--flood-latency-ms", type=int, default=100)
    parser.add_argument("--flood-clients", type=int, default=64)
    parser.add_argument("--legit-clients", type=int, default=4)
    parser.add_argument(
        "--legit-requests", type=int, default=200, help="legitimate signups without the flood"
    )
    parser.add_argument("--workers", type=int, help="gunicorn --workers (default: the config's)")
    parser.add_argument("--threads", type=int, help="gunicorn --threads (default: the config's)")
    parser.add_argument(
        "--no-proxy", action="store_true", help="fpdjango without nginx in front (not deployed)"
    )
    parser.add_argument("--nginx-workers", default="auto", help="nginx worker_processes")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this checkout's server only (an experiment; repeatable)",
    )
    parser.add_argument(
        "--only",
        choices=("refusals", "flood"),
        help="run only the 0/100 ms scenarios, or only the one-device flood (a quicker look)",
    )
    parser.add_argument(
        "--targets",
        default="seed,stock,baseline",
        type=_target_names,
        help="comma-separated: seed, stock, baseline (with --baseline-checkout)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--save", type=Path, help="also write the report as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json else print
    logdir = Path(tempfile.mkdtemp(prefix="compare-seed-"))
    sandbox = Sandbox(logdir)
    seed, servers = None, []
    settings = {**THROUGHPUT_SETTINGS}
    wanted = [("stock", ROOT, args.database_url, args.set)]
    if args.baseline_checkout and "baseline" in args.targets:
        wanted.append((args.baseline_name, args.baseline_checkout, args.baseline_database_url, []))
    uptime_start = uptime()
    try:
        sandbox.start()
        targets = []
        if "seed" in args.targets:
            seed = SeedServer(args.seed_python, sandbox.url, Path(args.seed_dir))
            seed.start()
            targets.append(
                Target(
                    "seed",
                    seed.url,
                    endpoint="/api/create-account",
                    id_field="requestId",
                    expect=SEED_EXPECT,
                    pids={"server": seed.pid, "sandbox": sandbox.pid},
                )
            )
        for name, checkout, database_url, extra in wanted:
            if name == "stock" and "stock" not in args.targets:
                continue
            server = Fpdjango(
                name=name,
                checkout=checkout,
                database_url=database_url,
                sandbox_url=sandbox.url,
                logdir=logdir,
                workers=args.workers,
                threads=args.threads,
                proxy=not args.no_proxy,
                nginx_workers=args.nginx_workers,
                settings={**settings, **dict(pair.partition("=")[::2] for pair in extra)},
            )
            log(f"starting {name}: {checkout} on {database_url}")
            servers.append(server)
            server.start()
            targets.append(
                Target(
                    name,
                    server.url,
                    endpoint="/api/create-account",
                    id_field="requestId",
                    expect=FPDJANGO_EXPECT,
                    pids={
                        "server": server.server_pid,
                        "proxy": server.nginx.pid if server.nginx else 0,
                        "sandbox": sandbox.pid,
                        "database_url": database_url,
                    },
                )
            )
        log("measuring the load generator and Argon2id")
        generator = generator_ceiling(64)
        argon2 = argon2_timing(servers[0].env if servers else os.environ)
        set_latency(sandbox.url, 0)
        for target in targets:
            target.dup_visitor = seed_duplicate_device(target, sandbox.url)
        results = []
        for block, (latency_ms, clients, path) in enumerate(BLOCKS if args.only != "flood" else ()):
            set_latency(sandbox.url, latency_ms)
            for target in turns(targets, block):
                log(f"  {latency_ms} ms, {clients} clients, {path}: {target.name}")
                take_turn(target, targets)
                warm_up(target, sandbox.url, latency_ms, clients)
                result = run_path(
                    target,
                    sandbox.url,
                    path,
                    latency_ms,
                    concurrency=clients,
                    requests=args.requests,
                    duration=args.max_seconds,
                    chunk=FRESH_CHUNK,
                    prefill=args.requests,
                )
                results.append(asdict(result))
        set_latency(sandbox.url, args.flood_latency_ms)
        floods = {}
        for target in turns(targets, len(BLOCKS)) if args.only != "refusals" else ():
            log(f"  {args.flood_latency_ms} ms, one-device flood: {target.name}")
            take_turn(target, targets)
            warm_up(target, sandbox.url, args.flood_latency_ms, args.flood_clients)
            floods[target.name] = flood_run(target, sandbox.url, args.flood_latency_ms, args)
        set_latency(sandbox.url, 0)
        report = {
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "kernel": platform.release(),
            },
            "servers": {server.name: server.describe() for server in servers},
            "settings": {
                k: str(v) if isinstance(v, Path) else v
                for k, v in vars(args).items()
                if k not in ("json", "save")
            },
            "generator": generator,
            "argon2": argon2,
            "results": results,
            "flood": floods,
            "errors": {server.name: logged_errors(server.log) for server in servers},
            "logs": str(logdir),
            "uptime_start": uptime_start,
            "uptime_end": uptime(),
        }
    finally:
        if seed is not None:
            seed.stop()
        for server in servers:
            server.stop()
        sandbox.stop()
        for server in servers:
            drop_database(server.database_url)
    report["proxy_errors"] = {
        server.name: proxy_errors(logdir / f"nginx-{server.name}-error.log") for server in servers
    }
    if args.save:
        args.save.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_comparison(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
