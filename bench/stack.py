"""The services a load benchmark runs against, and what they cost the machine.

`Stack` starts the Fingerprint sandbox and fpdjango under gunicorn with production settings on a
fresh PostgreSQL database; `SeedServer` starts the seed quickstart (../shared/anchors) in its own
virtualenv. The rest reads CPU and memory of those processes from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.control import SandboxControl  # noqa: E402

PY = sys.executable
SANDBOX_KEY = "sandbox-secret-key"

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
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [parts.path.lstrip("/")],
            ).fetchall()
    except psycopg.OperationalError as exc:  # e.g. max_connections reached by other users
        print(f"(PostgreSQL CPU not sampled: {exc})", file=sys.stderr)
        return []
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
        }
        if args.workers:
            self.env["GUNICORN_WORKERS"] = str(args.workers)
        if args.threads:
            self.env["GUNICORN_THREADS"] = str(args.threads)

    def for_throughput(self) -> Stack:
        """Settings of the throughput benchmarks: the load generator is one client IP sending
        thousands of brand-new devices and flooding one device on purpose, so the throttles and
        the new-devices-per-IP rules are off, and a device's second account is refused as the
        seed quickstart does (RISK_DEVICE_LIMIT_STRICT), which makes the duplicate-device path
        the same refusal on both sides."""
        self.env.update(
            SIGNUP_THROTTLE_RATE="",
            SIGNUP_THROTTLE_VISITOR_RATE="",
            RISK_IP_NEW_DEVICES_REVIEW_1H="0",
            RISK_IP_NEW_DEVICES_DENY_1H="0",
            RISK_DEVICE_LIMIT_STRICT="1",
        )
        return self

    def _spawn(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 (lives with the process)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start_sandbox(self) -> None:
        """A fresh, migrated database and the sandbox; `start` adds gunicorn."""
        fresh_database(self.args.database_url)
        for command in (["migrate", "--no-input", "-v", "0"], ["createcachetable"]):
            # The cache table holds the throttles' counters when REDIS_URL is unset (bin/serve).
            subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=self.env, check=True)
        sandbox_env = {**self.env, "SANDBOX_ENABLED": "1"}
        port = urlsplit(self.sandbox_url).port
        sandbox = self._spawn(
            "sandbox",
            [PY, "manage.py", "runsandbox", "--port", str(port), "--db", ":memory:"],
            sandbox_env,
        )
        wait_for(f"{self.sandbox_url}/healthz", sandbox)
        self.sandbox_pid = sandbox.pid

    def start(self) -> None:
        self.start_sandbox()
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


SEED_DIR = (ROOT / "../shared/anchors/seed_quickstart").resolve()


class SeedServer:
    """The seed quickstart (FastAPI + uvicorn, one process, SQLite), run in place from its venv.

    Its README's command: FINGERPRINT_API_KEY, FP_HOST (our sandbox, which serves the v3 paths
    its SDK calls), DB_PATH (a fresh file here) and PORT. Nothing of it is copied.
    """

    def __init__(self, python: str, sandbox_url: str, seed_dir: Path = SEED_DIR) -> None:
        self.python, self.sandbox_url, self.seed_dir = python, sandbox_url, seed_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="seed-"))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if not (self.seed_dir / "server.py").exists():
            raise SystemExit(f"seed quickstart not found in {self.seed_dir}")
        if not Path(self.python).exists():
            raise SystemExit(
                f"no Python at {self.python}: make the seed's venv as its README says "
                f"(python3 -m venv DIR && DIR/bin/pip install -r {self.seed_dir}/requirements.txt)"
            )
        env = {
            **os.environ,
            "FINGERPRINT_API_KEY": SANDBOX_KEY,
            "FP_HOST": self.sandbox_url,
            "DB_PATH": str(self.tmp / "seed.db"),
            "PORT": str(self.port),
        }
        log = open(self.tmp / "seed.log", "wb")  # noqa: SIM115 (lives with the process)
        # cwd: a scratch directory, so load_dotenv() finds no stray .env
        self.proc = subprocess.Popen(
            [self.python, str(self.seed_dir / "server.py")],
            cwd=self.tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # it has no health endpoint: wait for the port
            if self.proc.poll() is not None:
                raise SystemExit(f"seed exited with {self.proc.returncode}, see {self.tmp}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise SystemExit("timed out waiting for the seed")

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


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


def set_latency(sandbox_url: str, latency_ms: int) -> None:
    control = SandboxControl(sandbox_url)
    control.clear_faults()
    if latency_ms:
        control.set_faults(target="events", latency_ms=latency_ms)
    control.close()
