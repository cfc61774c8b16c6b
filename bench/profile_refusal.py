"""CPU per signup decision, in process, split by layer, beside the seed's CPU per request.

    .venv/bin/python bench/profile_refusal.py                       # bot, dup, accept
    .venv/bin/python bench/profile_refusal.py --baseline-checkout ../wt-annex   # and a baseline
    .venv/bin/python bench/profile_refusal.py --paths bot --requests 500 --rounds 5
    .venv/bin/python bench/profile_refusal.py --paths bot --cprofile 40   # the hot functions
    .venv/bin/python bench/profile_refusal.py --paths dup --pyinstrument  # a wall-clock tree

Starts the sandbox (in memory, 0 ms), a fresh PostgreSQL database per fpdjango checkout, and
one child process per checkout that loads that checkout's WSGI application (production
settings, as behind nginx: REMOTE_ADDR 127.0.0.1, X-Forwarded-For the client, X-Forwarded-Proto
https, RISK_TRUSTED_PROXY_COUNT=1) and calls it directly, one request at a time, in one thread:
no gunicorn, no proxy, no sockets on our side, so the CPU is the decision's own work plus its
Fingerprint and database round trips. The seed quickstart runs beside them (uvicorn, as its
README runs it) and gets the same requests over one keep-alive connection; its CPU per request
is read from /proc of its process (so it includes its HTTP server, which the in-process figures
do not).

Blocks of `--requests` decisions alternate between the targets (`--rounds` times, the order
reversed every other round) on events made right before each block; figures are medians over
the rounds. Each checkout's layers are timed by wrapping a few functions (CPU time of the
thread, each layer's own time without the layers it calls), whichever of them the checkout
has:

    DRF              APIView.dispatch: parser, negotiation, throttles, renderer, exception
                     handler (the annex's fast path: `signup_answer`)
    serializer       fields and Django's password validators (`is_valid`, less what it calls)
    username query   the serializer's username check
    risk entry       `risk.verdict.signup_verdict` less what it calls (the annex:
                     `accounts.services.account_signup`): throttles, metrics, the decision log
    event's claim    `event_claim_read` (stock only: one light read that says whether the event
                     backs an attempt already, i.e. a reuse, or a retry after a failed account)
    Fingerprint      `event_fetch`: the HTTP client, JSON, reading the event
    rules + writes   `signup_decide` (the annex: `signup_assess`): the plain read, the rules,
                     the transaction that stores snapshot, attempt and device counters
    account          creating and linking the account (accepts)
    password hash    Argon2id (accepts)
    Django           the rest: handler, middleware, request and response objects, signals
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# (layer, candidate dotted names: the first that exists in a checkout is wrapped, and every
# module-level alias of it too)
LAYERS = [
    ("DRF: dispatch, parser, renderer", ["rest_framework.views.APIView.dispatch"]),
    ("DRF: the annex's signup_answer", ["accounts.views.signup_answer"]),
    ("serializer: fields, validators", ["rest_framework.serializers.BaseSerializer.is_valid"]),
    ("username query", ["accounts.services.username_taken", "accounts.serializers.username_taken"]),
    (
        "risk entry: throttles, metrics, log",
        ["risk.verdict.signup_verdict", "accounts.services.account_signup"],
    ),
    ("event's claim: reuse and retry (one query)", ["risk.services.signup.event_claim_read"]),
    ("Fingerprint fetch, client side", ["risk.services.signup.event_fetch"]),
    (
        "rules + writes (plain read, transaction)",
        ["risk.services.signup.signup_decide", "risk.services.signup.signup_assess"],
    ),
    (
        "account: insert and link",
        ["risk.integrations.drf.FingerprintSignupMixin.save", "accounts.services.account_create"],
    ),
    ("password hash (Argon2id)", ["accounts.hashers.TunableArgon2PasswordHasher.encode"]),
]
DJANGO = "Django: handler, middleware, request/response"
CLIENT_IP = "127.0.0.2"  # what bench/load.py sends from, and the events carry


# --- the child: one checkout's application, called in process --------------------------------


class LayerClock:
    """Each wrapped layer's own CPU time (thread time less the wrapped layers it calls)."""

    def __init__(self) -> None:
        self.own: dict[str, float] = {}
        self.stack: list[list[float]] = []

    def wrap(self, name: str, func):
        clock = self

        def timed(*args, **kwargs):
            t0 = time.thread_time()
            clock.stack.append([0.0])
            try:
                return func(*args, **kwargs)
            finally:
                inner = clock.stack.pop()[0]
                spent = time.thread_time() - t0
                clock.own[name] = clock.own.get(name, 0.0) + spent - inner
                if clock.stack:
                    clock.stack[-1][0] += spent

        timed.__wrapped__ = func
        timed.__name__ = getattr(func, "__name__", name)
        return timed


def _resolve(dotted: str):
    """(owner, attribute, object) for a dotted name, or None."""
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:-1]:
                owner = getattr(owner, name)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            return None
    return None


def install_layers(clock: LayerClock) -> list[str]:
    installed = []
    for layer, candidates in LAYERS:
        for dotted in candidates:
            found = _resolve(dotted)
            if found is None:
                continue
            owner, attr, original = found
            wrapped = clock.wrap(layer, original)
            if isinstance(owner, type):
                setattr(owner, attr, wrapped)
            else:  # the module's function and every import of it by the project's modules
                for module in list(sys.modules.values()):
                    name = getattr(module, "__name__", "")
                    if name.split(".")[0] not in ("risk", "accounts", "fpdjango"):
                        continue
                    for key, value in list(vars(module).items()):
                        if value is original:
                            setattr(module, key, wrapped)
            installed.append(f"{layer}: {dotted}")
    return installed


def environ_for(body: bytes) -> dict:
    """A request as nginx hands it to gunicorn (docs/deployment.md)."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/create-account",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_FORWARDED_FOR": CLIENT_IP,
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_CONNECTION": "close",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def child(checkout: str) -> int:
    """Serve the parent's blocks: one JSON line in (bodies), one JSON line out (figures)."""
    os.chdir(checkout)
    sys.path.insert(0, checkout)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")
    from django.db import connection

    from fpdjango.wsgi import application  # sets Django up

    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write on the protocol's stream
    clock = LayerClock()
    installed = install_layers(clock)
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    def call(body: bytes) -> tuple[str, bytes]:
        status = []
        answer = application(environ_for(body), lambda s, h: status.append(s))
        data = b"".join(answer)
        if hasattr(answer, "close"):
            answer.close()
        return status[0], data

    out.write(json.dumps({"ready": True, "layers": installed}) + "\n")
    out.flush()
    for line in sys.stdin:
        command = json.loads(line)
        bodies = [body.encode() for body in command["bodies"]]
        profiler = cProfile.Profile(time.process_time) if command.get("cprofile") else None
        tree = None
        if command.get("pyinstrument"):
            from pyinstrument import Profiler

            tree = Profiler(interval=0.0005)
        clock.own.clear()
        queries[0] = 0
        statuses: dict[str, int] = {}
        samples = []
        with connection.execute_wrapper(count):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            if tree:
                tree.start()
            for body in bodies:
                status, data = call(body)
                statuses[status[:3]] = statuses.get(status[:3], 0) + 1
                if len(samples) < 2:
                    samples.append(data[:160].decode(errors="replace"))
            if profiler:
                profiler.disable()
            if tree:
                tree.stop()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        n = len(bodies)
        layers = {k: v * 1000 / n for k, v in clock.own.items()}
        layers[DJANGO] = cpu * 1000 / n - sum(layers.values())
        reply = {
            "cpu_ms": cpu * 1000 / n,
            "wall_ms": wall * 1000 / n,
            "queries": queries[0] / n,
            "statuses": statuses,
            "samples": samples,
            "layers": layers,
        }
        if profiler:
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("cumulative").print_stats(
                r"fpdjango|accounts/|risk/|rest_framework/views|django/core/handlers|"
                r"django/db/models/query.py|psycopg/cursor",
                int(command["cprofile"]),
            )
            reply["cprofile"] = text.getvalue()
        if tree:
            reply["pyinstrument"] = tree.output_text(unicode=True, color=False)
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


# --- the parent -----------------------------------------------------------------------------


class Child:
    def __init__(self, name: str, checkout: Path, env: dict, logdir: Path) -> None:
        from stack import checkout_python

        self.name = name
        self.log = open(logdir / f"child-{name}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                checkout_python(checkout),
                __file__,
                "--child",
                str(checkout),
            ],
            cwd=checkout,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        hello = self._read(timeout=120)
        self.layers = hello["layers"]

    def _read(self, timeout: float) -> dict:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout)
        if not result or not result[0]:
            raise SystemExit(f"{self.name}: no answer from the child (see {self.log.name})")
        return json.loads(result[0])

    def run(self, bodies: list[bytes], timeout: float = 600, **profilers) -> dict:
        command = {"bodies": [b.decode() for b in bodies], **profilers}
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class SeedClient:
    """The seed over one keep-alive connection; its CPU per request from /proc."""

    def __init__(self, seed) -> None:
        from stack import process_tree

        self.seed = seed
        self.pids = process_tree(seed.pid)
        self.conn = http.client.HTTPConnection(
            "127.0.0.1", seed.port, timeout=60, source_address=(CLIENT_IP, 0)
        )

    def run(self, bodies: list[bytes]) -> dict:
        from stack import proc_cpu_s

        statuses: dict[str, int] = {}
        self.conn.close()  # uvicorn closes a connection idle for 5 s: a new one per block
        cpu0, wall0 = proc_cpu_s(self.pids), time.perf_counter()
        for body in bodies:
            self.conn.request(
                "POST",
                "/api/create-account",
                body=body,
                headers={"Content-Type": "application/json"},
            )
            response = self.conn.getresponse()
            response.read()
            statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
        cpu, wall = proc_cpu_s(self.pids) - cpu0, time.perf_counter() - wall0
        n = len(bodies)
        return {"cpu_ms": cpu * 1000 / n, "wall_ms": wall * 1000 / n, "statuses": statuses}


def events(sandbox_url: str, path: str, n: int, visitor: str = "") -> list[bytes]:
    from load import EventFeed

    feed = EventFeed(sandbox_url, path, n, visitor_id=visitor, id_field="requestId", chunk=n)
    feed.prefill(n)
    bodies = [feed.pop() for _ in range(n)]
    feed.close()
    return bodies


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--paths", default="bot,dup,accept", help="comma-separated")
    parser.add_argument("--requests", type=int, default=300, help="decisions per block")
    parser.add_argument("--accept-requests", type=int, default=60, help="accepts per block")
    parser.add_argument("--rounds", type=int, default=4, help="blocks per target and path")
    parser.add_argument("--baseline-checkout", type=Path, help="another checkout beside this one")
    parser.add_argument("--baseline-name", default="annex")
    parser.add_argument("--no-seed", action="store_true", help="without the seed quickstart")
    parser.add_argument(
        "--seed-python", default=os.environ.get("SEED_PYTHON", "/tmp/seedvenv/bin/python")
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/fp_bench_profile_stock"
    )
    parser.add_argument(
        "--baseline-database-url",
        default="postgres://postgres@127.0.0.1:5432/fp_bench_profile_baseline",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for this checkout only (an experiment; repeatable)",
    )
    parser.add_argument(
        "--cprofile", type=int, default=0, help="after the rounds, one cProfile block: top N"
    )
    parser.add_argument(
        "--pyinstrument",
        action="store_true",
        help="after the rounds, one block under pyinstrument (wall-clock call tree)",
    )
    parser.add_argument("--save", type=Path, help="also write the figures as JSON here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args.child)
    from stack import (
        ROOT,
        THROUGHPUT_SETTINGS,
        Fpdjango,
        Sandbox,
        SeedServer,
        drop_database,
        set_latency,
        uptime,
    )

    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    logdir = Path(tempfile.mkdtemp(prefix="profile-refusal-"))
    sandbox = Sandbox(logdir)
    wanted = [("stock", ROOT, args.database_url, args.set)]
    if args.baseline_checkout:
        wanted.append((args.baseline_name, args.baseline_checkout, args.baseline_database_url, []))
    children: dict[str, Child] = {}
    servers, seed = [], None
    started = uptime()
    try:
        sandbox.start()
        set_latency(sandbox.url, 0)
        for name, checkout, database_url, extra in wanted:
            server = Fpdjango(
                name=name,
                checkout=checkout,
                database_url=database_url,
                sandbox_url=sandbox.url,
                logdir=logdir,
                proxy=True,  # the settings of a server behind nginx; no nginx is started
                settings={
                    **THROUGHPUT_SETTINGS,
                    **dict(pair.partition("=")[::2] for pair in extra),
                },
            )
            servers.append(server)
            print(f"{name}: migrating {database_url}", flush=True)
            server.prepare_database()
            children[name] = Child(name, server.checkout, server.env, logdir)
        targets: dict = dict(children)
        if not args.no_seed:
            seed = SeedServer(args.seed_python, sandbox.url)
            seed.start()
            targets["seed"] = SeedClient(seed)
        visitors = {}
        for name, target in targets.items():
            first = events(sandbox.url, "accept", 1)
            answer = target.run(first)
            if not answer["statuses"].get("201" if name != "seed" else "200"):
                raise SystemExit(f"{name}: the first account was not created: {answer}")
            visitors[name] = json.loads(first[0])["requestId"]
            target.run(events(sandbox.url, "bot", 50))  # warm: connections, caches
        visitors = {name: _visitor_of(sandbox.url, event) for name, event in visitors.items()}
        figures: dict = {path: {name: [] for name in targets} for path in paths}
        order = [n for n in targets if n != "seed"]
        order = [*order[:1], *(["seed"] if "seed" in targets else []), *order[1:]]
        for path in paths:
            n = args.accept_requests if path == "accept" else args.requests
            for round_ in range(args.rounds):
                for name in order if round_ % 2 == 0 else list(reversed(order)):
                    bodies = events(sandbox.url, path, n, visitors[name] if path == "dup" else "")
                    figures[path][name].append(targets[name].run(bodies))
                print(f"  {path}: round {round_ + 1} of {args.rounds}", flush=True)
        profiles = {}
        kinds = {"cprofile": args.cprofile} if args.cprofile else {}
        if args.pyinstrument:
            kinds["pyinstrument"] = True
        for kind, value in kinds.items():
            for name, target in children.items():
                for path in paths:
                    n = args.accept_requests if path == "accept" else args.requests
                    bodies = events(sandbox.url, path, n, visitors[name] if path == "dup" else "")
                    answer = target.run(bodies, **{kind: value})
                    profiles[f"{kind}, {name} {path}"] = answer[kind]
    finally:
        for target in children.values():
            target.stop()
        if seed is not None:
            seed.stop()
        sandbox.stop()
        for server in servers:
            drop_database(server.database_url)
    report = {
        "uptime_start": started,
        "uptime_end": uptime(),
        "servers": {s.name: s.describe() for s in servers},
        "figures": figures,
        "layers": {name: child.layers for name, child in children.items()},
    }
    print_report(report, args)
    for name, text in profiles.items():
        print(f"\n--- {name} (cProfile: CPU time, inflated by the profiler) ---\n{text}")
    if args.save:
        args.save.write_text(json.dumps(report, indent=2))
    return 0


def _visitor_of(sandbox_url: str, event_id: str) -> str:
    from stack import SandboxControl

    control = SandboxControl(sandbox_url)
    try:
        event = control.get_event(event_id)
    finally:
        control.close()
    return event["identification"]["visitor_id"]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def print_report(report: dict, args) -> None:
    print(f"\nstart: {report['uptime_start']}\nend:   {report['uptime_end']}")
    for name, server in report["servers"].items():
        print(f"{name}: {server['commit']}")
    for path, by_target in report["figures"].items():
        names = [n for n in by_target if n != "seed"]
        print(
            f"\n{path}: CPU ms per decision, median of {args.rounds} blocks"
            f" ({args.accept_requests if path == 'accept' else args.requests} each)"
        )
        header = "| layer | " + " | ".join(names) + " |"
        if len(names) == 2:
            header += f" {names[0]} - {names[1]} |"
        print(header + "\n|---|" + "---|" * (len(names) + (len(names) == 2)))
        layers = [layer for layer, _ in LAYERS] + [DJANGO]
        for layer in layers:
            cells = [
                [block["layers"].get(layer) for block in by_target[n] if layer in block["layers"]]
                for n in names
            ]
            if not any(cells):
                continue
            values = [_median(c) if c else None for c in cells]
            row = " | ".join("-" if v is None else f"{v:.2f}" for v in values)
            diff = ""
            if len(names) == 2:
                diff = f" {(values[0] or 0) - (values[1] or 0):+.2f} |"
            print(f"| {layer} | {row} |{diff}")
        totals = [_median([b["cpu_ms"] for b in by_target[n]]) for n in names]
        row = " | ".join(f"**{t:.2f}**" for t in totals)
        print(f"| **all (process CPU)** | {row} |" + (" |" if len(names) == 2 else ""))
        for label, key in (
            ("wall ms per decision", "wall_ms"),
            ("queries per decision", "queries"),
        ):
            values = [_median([b[key] for b in by_target[n]]) for n in names]
            print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
        statuses = {n: by_target[n][-1]["statuses"] for n in names}
        if len(names) == 2 and totals[1]:
            print(f"{names[0]} / {names[1]}: {totals[0] / totals[1]:.2f}")
        if "seed" in by_target:
            seed_cpu = _median([b["cpu_ms"] for b in by_target["seed"]])
            statuses["seed"] = by_target["seed"][-1]["statuses"]
            print(
                f"seed: {seed_cpu:.2f} ms CPU per request (its process, from /proc, its HTTP"
                f" server included); " + ", ".join(f"{n} / seed {t / seed_cpu:.2f}" for n, t in
                zip(names, totals, strict=True)) if seed_cpu else "seed: no CPU measured"
            )  # fmt: skip
        print(f"answers of the last block: {statuses}")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
