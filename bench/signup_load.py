"""Signup throughput and latency under gunicorn, per decision path (docs/benchmarks.md).

    .venv/bin/python bench/signup_load.py                      # the table in docs/benchmarks.md
    .venv/bin/python bench/signup_load.py --latency-ms 0 --concurrency 32 --paths dup,bot
    .venv/bin/python bench/signup_load.py --soak 300           # 5-minute memory check
    .venv/bin/python bench/signup_load.py --url http://host:8000 --sandbox-url http://host:8100

Unless --url is given it starts everything itself, with production settings: a fresh
PostgreSQL database (--database-url, default fp_bench_load, dropped and migrated), the
Fingerprint sandbox (`manage.py runsandbox`, in memory, on a free port), gunicorn with
fpdjango/gunicorn.conf.py (DJANGO_DEBUG=0, a throwaway secret key) and nginx in front of it
as docs/deployment.md configures it (--no-proxy: gunicorn alone). Per scenario it sets the
sandbox's latency for event lookups, then fires signups from --concurrency keep-alive
connections for each path:

    dup     a device that already has its account signs up again (new event, same visitor): 403
    bot     bad bots, a new visitor each time: 403
    accept  humans, a new visitor each time: 201 created (one Argon2id hash each)

Events are made in the sandbox ahead of the requests (bulk, topped up in the background so they
stay fresh), with ip 127.0.0.2, the load generator's own address, which the server sees. The
load generator is asyncio on raw HTTP/1.1 keep-alive streams; `generator` in the output is its
own ceiling against a trivial server, and `gen_cpu` is the share of a core it used per run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict

from load import PATHS, RunResult, Target, generator_ceiling, run_path, seed_duplicate_device
from report import print_table
from stack import MemorySampler, Stack, argon2_timing, set_latency, uptime

# --- driver ----------------------------------------------------------------------------------


def soak(args, target: Target, sandbox_url: str) -> dict:
    """Refusals and accepts, alternating in 10 s slices, for `args.soak` seconds."""
    pids = target.pids
    sampler = MemorySampler(pids["server"]) if pids.get("server") else None
    if sampler:
        sampler.start()
    end = time.monotonic() + args.soak
    runs: list[RunResult] = []
    rss_trace = []
    while time.monotonic() < end:
        for path in args.paths:
            if time.monotonic() >= end:
                break
            result = run_path(
                target,
                sandbox_url,
                path,
                args.latency_ms[0],
                concurrency=args.concurrency,
                duration=10.0,
            )
            runs.append(result)
            if sampler and sampler.samples:
                rss_trace.append(round(sampler.samples[-1][1] / 1024, 1))
    memory = sampler.stop() if sampler else {}
    return {
        "seconds": args.soak,
        "requests": sum(r.requests for r in runs),
        "ok": sum(r.ok for r in runs),
        "rss_mib_after_each_slice": rss_trace,
        **memory,
        "uptime": uptime(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="target a running server instead of starting one")
    parser.add_argument("--sandbox-url", help="the sandbox that server uses (with --url)")
    parser.add_argument("--server-pid", type=int, help="gunicorn master pid (with --url: memory)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "LOADBENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fp_bench_load"
        ),
        help="PostgreSQL database the benchmark drops and recreates",
    )
    parser.add_argument(
        "--latency-ms", default="100,0", help="sandbox latency per scenario, comma-separated"
    )
    parser.add_argument(
        "--concurrency", default="", help="clients per scenario (default 64 at >0 ms, 32 at 0 ms)"
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per path")
    parser.add_argument("--requests", type=int, help="requests per path (instead of --duration)")
    parser.add_argument("--paths", default="dup,bot,accept", help="comma-separated: dup,bot,accept")
    parser.add_argument("--workers", type=int, help="gunicorn --workers (default: the config's)")
    parser.add_argument("--threads", type=int, help="gunicorn --threads (default: the config's)")
    parser.add_argument(
        "--no-proxy", action="store_true", help="gunicorn alone, without nginx in front"
    )
    parser.add_argument("--soak", type=float, default=0, help="also run a memory soak (seconds)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    args.proxy = not args.no_proxy
    args.latency_ms = [int(x) for x in args.latency_ms.split(",") if x.strip()]
    args.paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if unknown := set(args.paths) - set(PATHS):
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    conc = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if not conc:
        conc = [64 if latency else 32 for latency in args.latency_ms]
    if len(conc) == 1:
        conc = conc * len(args.latency_ms)
    if len(conc) != len(args.latency_ms):
        parser.error("give one --concurrency, or one per --latency-ms value")
    args.concurrencies = conc
    if args.url and not args.sandbox_url:
        parser.error("--url needs --sandbox-url")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = None
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    try:
        if args.url:
            url, sandbox_url = args.url.rstrip("/"), args.sandbox_url.rstrip("/")
            pids = {"server": args.server_pid} if args.server_pid else {}
            server = {"url": url}
            env = {**os.environ, "DJANGO_DEBUG": "1"}
        else:
            log(f"starting sandbox + gunicorn (production settings) on {args.database_url}")
            stack = Stack(args).for_throughput()
            stack.start()
            url, sandbox_url = stack.url, stack.sandbox_url
            pids = {
                "server": stack.server_pid,
                "proxy": stack.proxy_pid,
                "sandbox": stack.sandbox_pid,
                "database_url": args.database_url,
            }
            env = stack.env
            server = {"url": url, **stack.server.describe(), "logs": str(stack.logdir)}
        log("measuring the load generator against a trivial server")
        generator = generator_ceiling(max(args.concurrencies))
        log("measuring Argon2id hash time")
        argon2 = argon2_timing(env)
        target = Target("fpdjango", url, pids=pids)
        if "dup" in args.paths:
            target.dup_visitor = seed_duplicate_device(target, sandbox_url)
        sampler = MemorySampler(pids["server"]) if pids.get("server") else None
        if sampler:
            sampler.start()
        results = []
        for latency_ms, concurrency in zip(args.latency_ms, args.concurrencies, strict=True):
            set_latency(sandbox_url, latency_ms)
            # Warm-up: every worker thread opens its database and Fingerprint connections.
            run_path(
                target,
                sandbox_url,
                "bot",
                latency_ms,
                concurrency=concurrency,
                requests=concurrency * 8,
            )
            for path in args.paths:
                log(f"  latency {latency_ms} ms, {concurrency} clients: {path}")
                results.append(
                    run_path(
                        target,
                        sandbox_url,
                        path,
                        latency_ms,
                        concurrency=concurrency,
                        requests=args.requests,
                        duration=None if args.requests else args.duration,
                    )
                )
        memory = sampler.stop() if sampler else {}
        soak_report = None
        if args.soak:
            log(f"soak: {args.soak:.0f} s")
            soak_args = argparse.Namespace(**{**vars(args), "concurrency": args.concurrencies[0]})
            soak_report = soak(soak_args, target, sandbox_url)
        set_latency(sandbox_url, 0)
        report = {
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "kernel": platform.release(),
            },
            "server": server,
            "generator": generator,
            "argon2": argon2,
            "results": [asdict(r) for r in results],
            "memory": memory,
            "soak": soak_report,
            "uptime_end": uptime(),
        }
    finally:
        if stack is not None:
            stack.stop()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
