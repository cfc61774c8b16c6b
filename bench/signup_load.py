"""Signup throughput and latency under gunicorn, per decision path (docs/benchmarks.md).

    .venv/bin/python bench/signup_load.py                      # the table in docs/benchmarks.md
    .venv/bin/python bench/signup_load.py --latency-ms 0 --concurrency 32 --paths dup,bot
    .venv/bin/python bench/signup_load.py --soak 300           # 5-minute memory check
    .venv/bin/python bench/signup_load.py --url http://host:8000 --sandbox-url http://host:8100

Unless --url is given it starts everything itself, with production settings: a fresh
PostgreSQL database (--database-url, default fpdjango_loadbench, dropped and migrated), the
Fingerprint sandbox (`manage.py runsandbox`, in memory, on a free port) and gunicorn with
fpdjango/gunicorn.conf.py (DJANGO_DEBUG=0, a throwaway secret key). Per scenario it sets the
sandbox's latency for event lookups, then fires signups from --concurrency keep-alive
connections for each path:

    dup     a device that already has its account signs up again (new event, same visitor): 403
    bot     bad bots, a new visitor each time: 403
    accept  humans, a new visitor each time: 201 created (one Argon2id hash each)

Events are made in the sandbox ahead of the requests (bulk, topped up in the background so they
stay fresh), with ip 127.0.0.1, the client IP the server sees. The load generator is asyncio on
raw HTTP/1.1 keep-alive streams; `generator` in the output is its own ceiling against a trivial
server, and `gen_cpu` is the share of a core it used during each run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import platform
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.control import SandboxControl  # noqa: E402

PY = sys.executable
SANDBOX_KEY = "sandbox-secret-key"
PASSWORD = "Lq7-vT9#mZp2wR4k"  # passes Django's validators; every account gets its own salt
PATHS = {
    # path: (sandbox profile, expected status, body marker of success)
    "dup": ("human", 403, b"signup_denied"),
    "bot": ("bad_bot", 403, b"signup_denied"),
    "accept": ("human", 201, b'"created"'),
}
CHUNK = 2000  # events per bulk call when topping up


# --- machine state ----------------------------------------------------------------------


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + Path("/proc/loadavg").read_text().split(" 3")[0]


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(child) for child in children)
    return pids


def proc_cpu_s(pids: list[int]) -> float:
    return sum(proc_cpu_each(pids).values())


def proc_cpu_each(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) per live process."""
    cpu = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parts = stat[stat.rindex(")") + 2 :].split()
        cpu[pid] = (int(parts[11]) + int(parts[12])) / tick
    return cpu


def postgres_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (the server's connections)."""
    import psycopg

    parts = urlsplit(database_url)
    admin = parts._replace(scheme="postgresql", path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [parts.path.lstrip("/")],
        ).fetchall()
    return [row[0] for row in rows]


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) in KiB; PSS splits the pages workers share with the master."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


class MemorySampler(threading.Thread):
    """Samples the server's process tree (master + workers) every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int, int]] = []  # (t, rss KiB, pss KiB)
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while not self._halt.is_set():
            rss, pss = memory_kib(process_tree(self.pid))
            self.samples.append((time.monotonic() - self._t0, rss, pss))
            self._halt.wait(self.interval)

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        if not self.samples:
            return {}
        rss = [s[1] for s in self.samples]
        pss = [s[2] for s in self.samples]
        return {
            "peak_rss_mib": round(max(rss) / 1024, 1),
            "peak_pss_mib": round(max(pss) / 1024, 1),
            "first_rss_mib": round(rss[0] / 1024, 1),
            "last_rss_mib": round(rss[-1] / 1024, 1),
            "samples": len(rss),
        }


# --- the services under test -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {url}")


def fresh_database(url: str) -> None:
    """Drop and recreate the benchmark's own PostgreSQL database."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or not name:
        raise SystemExit("--database-url must be postgres://.../<database>")
    admin = parts._replace(path="/postgres").geturl().replace("pgsql://", "postgresql://")
    admin = admin.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Stack:
    """Sandbox + gunicorn with production settings, started and stopped by the benchmark."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: list[subprocess.Popen] = []
        self.logdir = Path(tempfile.mkdtemp(prefix="signup-load-"))
        sandbox_port, self.port = free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": args.database_url,
            "FINGERPRINT_API_URL": self.sandbox_url,
            "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY,
            "SANDBOX_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            # as bin/serve: Argon2's 19 MiB blocks go back to the OS after each hash
            "MALLOC_MMAP_THRESHOLD_": os.environ.get("MALLOC_MMAP_THRESHOLD_", "1048576"),
        }
        if args.workers:
            self.env["GUNICORN_WORKERS"] = str(args.workers)
        if args.threads:
            self.env["GUNICORN_THREADS"] = str(args.threads)

    def _spawn(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 (lives with the process)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        fresh_database(self.args.database_url)
        subprocess.run(
            [PY, "manage.py", "migrate", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )
        sandbox_env = {**self.env, "SANDBOX_ENABLED": "1"}
        port = urlsplit(self.sandbox_url).port
        sandbox = self._spawn(
            "sandbox",
            [PY, "manage.py", "runsandbox", "--port", str(port), "--db", ":memory:"],
            sandbox_env,
        )
        wait_for(f"{self.sandbox_url}/healthz", sandbox)
        self.sandbox_pid = sandbox.pid
        gunicorn = self._spawn(
            "gunicorn",
            [
                str(Path(PY).parent / "gunicorn"),
                "-c",
                "fpdjango/gunicorn.conf.py",
                "fpdjango.wsgi:application",
            ],
            self.env,
        )
        wait_for(f"{self.url}/healthz", gunicorn)
        self.server_pid = gunicorn.pid

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def gunicorn_config(env: dict) -> dict:
    """workers/threads as fpdjango/gunicorn.conf.py resolves them with this environment."""
    code = (
        "import json, runpy; c = runpy.run_path('fpdjango/gunicorn.conf.py');"
        "print(json.dumps({k: c[k] for k in ('workers', 'threads', 'timeout', 'max_requests')}))"
    )
    out = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def argon2_timing(env: dict, rounds: int = 20) -> dict:
    """Hash time with the production hasher and cost, single-threaded and on every core."""
    code = """
import json, os, time, django
from concurrent.futures import ThreadPoolExecutor
django.setup()
from django.conf import settings
from django.contrib.auth.hashers import make_password
n = int(os.environ['ROUNDS']); cores = os.cpu_count()
make_password('warm-up-password')
t0 = time.perf_counter()
for i in range(n): make_password(f'password-{i}')
single = (time.perf_counter() - t0) / n
with ThreadPoolExecutor(cores) as pool:
    t0 = time.perf_counter()
    list(pool.map(lambda i: make_password(f'p-{i}'), range(n * cores)))
    parallel = n * cores / (time.perf_counter() - t0)
print(json.dumps({"time_cost": settings.ARGON2_TIME_COST,
    "memory_cost_kib": settings.ARGON2_MEMORY_COST_KIB,
    "parallelism": settings.ARGON2_PARALLELISM, "cores": cores,
    "hash_ms": round(single * 1000, 2), "limit_per_s": round(cores / single, 1),
    "measured_parallel_per_s": round(parallel, 1)}))
"""
    run_env = {**env, "DJANGO_SETTINGS_MODULE": "fpdjango.settings", "ROUNDS": str(rounds)}
    out = subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=run_env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


# --- events --------------------------------------------------------------------------------


class EventFeed:
    """Signup bodies for one path, from sandbox events made ahead and topped up in a thread."""

    def __init__(self, sandbox_url: str, path: str, total: int | None, visitor_id: str = ""):
        self.control = SandboxControl(sandbox_url, timeout=120)
        self.profile = PATHS[path][0]
        self.visitor_id = visitor_id
        self.remaining = total  # None: unlimited (duration runs)
        self.bodies: collections.deque[bytes] = collections.deque()
        self.run_id = secrets.token_hex(3)
        self.counter = 0
        self.stalls = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _fill(self, count: int) -> None:
        fields: dict = {"ip": "127.0.0.1"}
        if self.visitor_id:
            fields["visitor_id"] = self.visitor_id
        ids = self.control.bulk_events(count, profile=self.profile, **fields)
        for event_id in reversed(ids):  # bulk returns newest first; send oldest first
            self.counter += 1
            body = {"event_id": event_id, "username": f"lb{self.run_id}x{self.counter}"}
            body["password"] = PASSWORD
            self.bodies.append(json.dumps(body, separators=(",", ":")).encode())

    def prefill(self, count: int) -> None:
        count = count if self.remaining is None else min(count, self.remaining)
        self._fill(count)
        if self.remaining is not None:
            self.remaining -= count
        if self.remaining is None or self.remaining > 0:
            self._thread = threading.Thread(target=self._top_up, daemon=True)
            self._thread.start()

    def _top_up(self) -> None:
        while not self._stop.is_set():
            if len(self.bodies) < CHUNK and (self.remaining is None or self.remaining > 0):
                count = CHUNK if self.remaining is None else min(CHUNK, self.remaining)
                self._fill(count)
                if self.remaining is not None:
                    self.remaining -= count
            elif self.remaining == 0:
                return
            self._wake.wait(0.05)
            self._wake.clear()

    def pop(self) -> bytes | None:
        try:
            body = self.bodies.popleft()
        except IndexError:
            return None
        if len(self.bodies) < CHUNK:
            self._wake.set()
        return body

    def exhausted(self) -> bool:
        return not self.bodies and self.remaining == 0

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.control.close()


# --- load generator ------------------------------------------------------------------------


@dataclass
class RunResult:
    path: str
    latency_ms: int
    concurrency: int
    requests: int = 0
    ok: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    statuses: dict = field(default_factory=dict)
    gen_cpu: float = 0.0  # share of one core the load generator used
    server_cpu_ms_per_req: float = 0.0
    sandbox_cpu_ms_per_req: float = 0.0
    postgres_cpu_ms_per_req: float = 0.0  # the server's PostgreSQL backends
    machine_busy: float = 0.0  # share of all cores busy (everything on the machine)
    feed_stalls: int = 0
    uptime: str = ""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def fire(
    url: str,
    next_body,
    *,
    concurrency: int,
    duration: float | None,
    path: str = "/api/signup",
) -> tuple[list[float], collections.Counter, int, float, int]:
    """Send bodies from `next_body()` (None: wait, StopIteration: done) on keep-alive conns.

    Returns (latencies s, status counter, ok count, elapsed s, stalls)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: "
    ).encode()
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    ok = [0]
    stalls = [0]
    t_start = time.perf_counter()
    deadline = t_start + duration if duration else None

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while deadline is None or time.perf_counter() < deadline:
                try:
                    item = next_body()
                except StopIteration:
                    return
                if item is None:
                    stalls[0] += 1
                    await asyncio.sleep(0.002)
                    continue
                body, check = item
                t0 = time.perf_counter()
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                status, answer, close = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                statuses[status] += 1
                if check(status, answer):
                    ok[0] += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, statuses, ok[0], time.perf_counter() - t_start, stalls[0]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def run_path(
    args: argparse.Namespace,
    url: str,
    sandbox_url: str,
    path: str,
    latency_ms: int,
    pids: dict[str, int],
    dup_visitor: str,
) -> RunResult:
    _, expected, marker = PATHS[path]
    total = args.requests
    feed = EventFeed(sandbox_url, path, total, visitor_id=dup_visitor if path == "dup" else "")
    feed.prefill(min(total or 10**9, max(CHUNK * 2, args.concurrency * 4)))

    def check(status: int, body: bytes) -> bool:
        return status == expected and marker in body

    def next_body():
        body = feed.pop()
        if body is None:
            if feed.exhausted():
                raise StopIteration
            return None
        return body, check

    server = process_tree(pids["server"]) if pids.get("server") else []
    sandbox = process_tree(pids["sandbox"]) if pids.get("sandbox") else []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    srv0, sbx0, busy0 = proc_cpu_s(server), proc_cpu_s(sandbox), cpu_busy()
    database_url = pids.get("database_url")
    pg0 = proc_cpu_each(postgres_pids(database_url)) if database_url else {}
    duration = None if total else args.duration
    latencies, statuses, ok, elapsed, stalls = asyncio.run(
        fire(url, next_body, concurrency=args.concurrency, duration=duration)
    )
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1 = cpu_busy()
    # Backends opened during the run (CONN_MAX_AGE renews connections) count in full; CPU of
    # the ones that closed during the run is lost, so this is a slight underestimate.
    pg1 = proc_cpu_each(postgres_pids(database_url)) if database_url else {}
    pg_cpu = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
    feed.close()
    n = len(latencies)
    gen_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / elapsed
    return RunResult(
        path=path,
        latency_ms=latency_ms,
        concurrency=args.concurrency,
        requests=n,
        ok=ok,
        seconds=round(elapsed, 2),
        rps=round(ok / elapsed, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 1),
        p99_ms=round(percentile(latencies, 99) * 1000, 1),
        max_ms=round(max(latencies, default=0) * 1000, 1),
        statuses={str(k): v for k, v in sorted(statuses.items())},
        gen_cpu=round(gen_cpu, 2),
        server_cpu_ms_per_req=round((proc_cpu_s(server) - srv0) * 1000 / n, 2) if n else 0,
        sandbox_cpu_ms_per_req=round((proc_cpu_s(sandbox) - sbx0) * 1000 / n, 2) if n else 0,
        postgres_cpu_ms_per_req=round(pg_cpu * 1000 / n, 2) if n else 0,
        machine_busy=round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 2),
        feed_stalls=stalls,
        uptime=uptime(),
    )


def seed_duplicate_device(url: str, sandbox_url: str) -> str:
    """A device that already has its account: the `dup` path signs it up again."""
    control = SandboxControl(sandbox_url)
    event = control.create_event("human", ip="127.0.0.1")
    body = json.dumps(
        {
            "event_id": event["event_id"],
            "username": f"lbdup{secrets.token_hex(4)}",
            "password": PASSWORD,
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/api/signup", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if answer.get("status") != "created":
        raise SystemExit(f"could not create the duplicate device's first account: {answer}")
    control.close()
    return event["identification"]["visitor_id"]


# --- generator ceiling ------------------------------------------------------------------------


def _trivial_server(port: int, ready) -> None:
    """A minimal keep-alive HTTP server (one core): answers every request with 200 `{}`."""

    class Proto(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].lower()
                i = head.find(b"content-length:")
                length = int(head[i + 15 :].split(b"\r\n", 1)[0]) if i >= 0 else 0
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )

    async def main():
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


def generator_ceiling(concurrency: int, seconds: float = 3.0) -> dict:
    port = free_port()
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_trivial_server, args=(port, ready), daemon=True)
    proc.start()
    ready.wait(10)
    body = json.dumps(
        {"event_id": "1700000000000.abcdef", "username": "x" * 20, "password": PASSWORD}
    )
    item = (body.encode(), lambda status, _: status == 200)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    latencies, _, ok, elapsed, _ = asyncio.run(
        fire(f"http://127.0.0.1:{port}", lambda: item, concurrency=concurrency, duration=seconds)
    )
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    proc.terminate()
    proc.join()
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return {
        "rps": round(ok / elapsed, 1),
        "cpu_us_per_req": round(cpu * 1e6 / max(ok, 1), 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "concurrency": concurrency,
    }


# --- driver ----------------------------------------------------------------------------------


def set_latency(sandbox_url: str, latency_ms: int) -> None:
    control = SandboxControl(sandbox_url)
    control.clear_faults()
    if latency_ms:
        control.set_faults(target="events", latency_ms=latency_ms)
    control.close()


def soak(args, url, sandbox_url, pids, dup_visitor) -> dict:
    """Refusals and accepts, alternating in 10 s slices, for `args.soak` seconds."""
    sampler = MemorySampler(pids["server"]) if pids.get("server") else None
    if sampler:
        sampler.start()
    slice_args = argparse.Namespace(**{**vars(args), "requests": None, "duration": 10.0})
    end = time.monotonic() + args.soak
    runs: list[RunResult] = []
    rss_trace = []
    while time.monotonic() < end:
        for path in args.paths:
            if time.monotonic() >= end:
                break
            result = run_path(
                slice_args, url, sandbox_url, path, args.latency_ms[0], pids, dup_visitor
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


def print_table(report: dict) -> None:
    gen = report["generator"]
    print(f"\nmachine: {report['machine']['cores']} cores, {report['machine']['python']}")
    print(f"server: {report['server']}")
    print(
        f"load generator ceiling (trivial server, c={gen['concurrency']}): {gen['rps']:.0f} req/s,"
        f" {gen['cpu_us_per_req']:.0f} us CPU per request"
    )
    h = report["argon2"]
    if h:
        print(
            f"argon2id t={h['time_cost']} m={h['memory_cost_kib']} KiB p={h['parallelism']}: "
            f"{h['hash_ms']} ms per hash -> hashing limit {h['limit_per_s']}/s "
            f"({h['cores']} cores / hash time; measured on all cores: "
            f"{h['measured_parallel_per_s']}/s)"
        )
    header = (
        f"{'latency':>7} {'conc':>4} {'path':<6} {'reqs':>6} {'ok':>6} {'ok/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'cpu ms/req srv+sbx+pg':>22} {'gen cpu':>7} {'busy':>5}  uptime"
    )
    print("\n" + header)
    for r in report["results"]:
        load = r["uptime"].split("load average:")[-1].strip()
        cpu = (
            f"{r['server_cpu_ms_per_req']:.1f}+{r['sandbox_cpu_ms_per_req']:.1f}"
            f"+{r['postgres_cpu_ms_per_req']:.1f}"
        )
        print(
            f"{r['latency_ms']:>7} {r['concurrency']:>4} {r['path']:<6} {r['requests']:>6} "
            f"{r['ok']:>6} {r['rps']:>7.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{cpu:>22} {r['gen_cpu']:>7.2f} {r['machine_busy']:>5.2f}"
            f"  {load}"
        )
        if r["ok"] != r["requests"]:
            print(f"{'':>20}statuses {r['statuses']} (ok = expected status and body)")
    accept = [r for r in report["results"] if r["path"] == "accept"]
    if h and accept:
        best = max(r["rps"] for r in accept)
        print(f"\naccepted: {best:.1f}/s = {best / h['limit_per_s']:.0%} of the hashing limit")
    if report.get("memory"):
        m = report["memory"]
        print(
            f"server memory (master + workers) over the runs: peak RSS {m['peak_rss_mib']} MiB,"
            f" peak PSS {m['peak_pss_mib']} MiB"
        )
    if report.get("soak"):
        s = report["soak"]
        print(
            f"\nsoak {s['seconds']} s: {s['requests']} requests; server RSS (master + workers) "
            f"first {s.get('first_rss_mib')} MiB, last {s.get('last_rss_mib')} MiB, peak "
            f"{s.get('peak_rss_mib')} MiB (peak PSS {s.get('peak_pss_mib')} MiB); "
            f"after each slice: {s['rss_mib_after_each_slice']}"
        )
    print(f"\n{report['uptime_end']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="target a running server instead of starting one")
    parser.add_argument("--sandbox-url", help="the sandbox that server uses (with --url)")
    parser.add_argument("--server-pid", type=int, help="gunicorn master pid (with --url: memory)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "LOADBENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fpdjango_loadbench"
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
    parser.add_argument("--workers", type=int, help="GUNICORN_WORKERS for the started server")
    parser.add_argument("--threads", type=int, help="GUNICORN_THREADS for the started server")
    parser.add_argument("--soak", type=float, default=0, help="also run a memory soak (seconds)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
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
            stack = Stack(args)
            stack.start()
            url, sandbox_url = stack.url, stack.sandbox_url
            pids = {
                "server": stack.server_pid,
                "sandbox": stack.sandbox_pid,
                "database_url": args.database_url,
            }
            env = stack.env
            server = {"url": url, **gunicorn_config(env), "logs": str(stack.logdir)}
        log("measuring the load generator against a trivial server")
        generator = generator_ceiling(max(args.concurrencies))
        log("measuring Argon2id hash time")
        argon2 = argon2_timing(env)
        dup_visitor = seed_duplicate_device(url, sandbox_url) if "dup" in args.paths else ""
        sampler = MemorySampler(pids["server"]) if pids.get("server") else None
        if sampler:
            sampler.start()
        results = []
        for latency_ms, concurrency in zip(args.latency_ms, args.concurrencies, strict=True):
            set_latency(sandbox_url, latency_ms)
            run_args = argparse.Namespace(**{**vars(args), "concurrency": concurrency})
            # Warm-up: every worker thread opens its database and Fingerprint connections.
            warm = argparse.Namespace(**{**vars(run_args), "requests": concurrency * 8})
            run_path(warm, url, sandbox_url, "bot", latency_ms, pids, dup_visitor)
            for path in args.paths:
                log(f"  latency {latency_ms} ms, {concurrency} clients: {path}")
                results.append(
                    run_path(run_args, url, sandbox_url, path, latency_ms, pids, dup_visitor)
                )
        memory = sampler.stop() if sampler else {}
        soak_report = None
        if args.soak:
            log(f"soak: {args.soak:.0f} s")
            soak_args = argparse.Namespace(**{**vars(args), "concurrency": args.concurrencies[0]})
            soak_report = soak(soak_args, url, sandbox_url, pids, dup_visitor)
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
