"""The services a load benchmark runs against, and what they cost the machine.

`Sandbox` starts the Fingerprint sandbox; `Fpdjango` one checkout of fpdjango as deployed: a
fresh PostgreSQL database, gunicorn with the checkout's fpdjango/gunicorn.conf.py and production
settings, and `Nginx` in front as docs/deployment.md configures it; `Stack` is the two for the
benchmarks that load one server; `SeedServer` starts the seed quickstart (../shared/anchors) in
its own virtualenv. The rest reads CPU and memory of those processes from /proc.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
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


def wait_for(
    url: str, proc: subprocess.Popen | None, timeout: float = 60, expect_status: int | None = 200
) -> None:
    """Until `url` answers (`expect_status`, or anything HTTP with None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if expect_status is None or response.status == expect_status:
                    return
        except urllib.error.HTTPError as exc:
            if expect_status is None or exc.code == expect_status:
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {url}")


def psql(sql: str, db: str = "postgres") -> str:
    """Run SQL as the local superuser; its output, unaligned."""
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAqc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def fresh_database(url: str) -> None:
    """Drop and recreate the benchmark's own PostgreSQL database."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql") or not name:
        raise SystemExit("--database-url must be postgres://.../<database>")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def release_connections(url: str) -> int:
    """Close the server's idle connections to its database, as an idle timeout would.

    PostgreSQL on the benchmark host allows 100 connections and each fpdjango thread keeps one
    (DB_CONN_MAX_AGE): two servers of 2 x 32 threads would need 128. The comparison runs one
    server at a time, so it closes the other's when a block ends; the next request of each
    thread notices (Django's CONN_HEALTH_CHECKS; the annex's own backend likewise) and
    reconnects, which the next block's warm-up absorbs."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() AND state = 'idle'",
            [name],
        ).fetchall()
    return len(rows)


def _admin_url(url: str) -> str:
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    return admin.replace("pgsql://", "postgresql://").replace("postgres://", "postgresql://", 1)


def production_env(database_url: str, sandbox_url: str, *, proxies: int = 0) -> dict:
    """Production settings (DJANGO_DEBUG off) against the loopback sandbox."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),  # risk.E013: at least 50 characters
        "DATABASE_URL": database_url,
        "FINGERPRINT_API_URL": sandbox_url,
        "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY,
        # A loopback sandbox in production is refused unless said so (risk.E011, E012).
        "FINGERPRINT_SANDBOX_IN_PRODUCTION": "1",
        "SANDBOX_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }
    if proxies:
        # nginx appends the client's address to X-Forwarded-For and says the request was
        # HTTPS (X-Forwarded-Proto), as docs/deployment.md's site does.
        env["RISK_TRUSTED_PROXY_COUNT"] = str(proxies)
    else:
        # Nothing in front says X-Forwarded-Proto: https, so do not redirect to it.
        env["DJANGO_SECURE_SSL_REDIRECT"] = "0"
    return env


# The throughput benchmarks' settings: the load generator is one client IP sending thousands
# of brand-new devices and flooding one device on purpose, so the throttles and the
# new-devices-per-IP rules are off, and a device's second account is refused as the seed
# quickstart does (RISK_DEVICE_LIMIT_STRICT), which makes the duplicate-device path the same
# refusal on both sides.
# A throttle is off when its rate is empty; one space, because fpdjango/settings.py reads an
# empty variable as unset (django-environ), which gives the default rate.
THROUGHPUT_SETTINGS = {
    "SIGNUP_THROTTLE_RATE": " ",
    "SIGNUP_THROTTLE_VISITOR_RATE": " ",
    "RISK_IP_NEW_DEVICES_REVIEW_1H": "0",
    "RISK_IP_NEW_DEVICES_DENY_1H": "0",
    "RISK_DEVICE_LIMIT_STRICT": "1",
}


def checkout_python(checkout: Path) -> str:
    """The checkout's own virtualenv (`.venv`), else this interpreter."""
    python = checkout / ".venv" / "bin" / "python"
    return str(python) if python.exists() else PY


def _spawn(procs: list, logdir: Path, name: str, cmd: list[str], cwd, env, **kw):
    log = open(logdir / f"{name}.log", "wb")  # noqa: SIM115 (lives with the process)
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, **kw)
    procs.append(proc)
    return proc


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Sandbox:
    """The Fingerprint sandbox (`manage.py runsandbox`, in memory) on a free loopback port."""

    def __init__(self, logdir: Path, env: dict | None = None) -> None:
        self.logdir, self.procs = logdir, []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or os.environ
        self.pid = 0

    def start(self) -> None:
        env = {**self.env, "DJANGO_DEBUG": "1", "SANDBOX_ENABLED": "1"}
        env.pop("DATABASE_URL", None)  # it keeps its state in memory
        cmd = [PY, "manage.py", "runsandbox", "--port", str(self.port), "--db", ":memory:"]
        cmd.append("--skip-checks")  # the project's checks are the servers' business
        proc = _spawn(self.procs, self.logdir, "sandbox", cmd, ROOT, env)
        wait_for(f"{self.url}/healthz", proc)
        self.pid = proc.pid

    def stop(self) -> None:
        _stop(self.procs)


NGINX_CONF = """\
# Written by bench/stack.py: docs/deployment.md's site, on loopback, without TLS.
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    access_log {access_log};
    keepalive_timeout 65;
    upstream fpdjango {{ server 127.0.0.1:{upstream}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://fpdjango;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # TLS ends here in production ($scheme is https); the loopback listener is http.
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 35s;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise SystemExit(
            "nginx is missing: `apt-get install -y nginx` (Debian's package; the benchmark runs "
            "it as an unprivileged process from a config file of its own), or pass --no-proxy"
        )
    return found


class Nginx:
    """nginx in front of one gunicorn, as docs/deployment.md configures it, run unprivileged
    (as `nobody` when the benchmark runs as root) from a config file under a temp dir."""

    def __init__(self, upstream_port: int, logdir: Path, *, workers: str = "auto", name="nginx"):
        self.name, self.procs = name, []
        self.upstream_port, self.workers = upstream_port, workers
        self.logdir = logdir
        self.tmp = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid = 0

    def start(self, access_log: bool = True) -> None:
        binary = nginx_binary()
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                workers=self.workers,
                tmp=self.tmp,
                upstream=self.upstream_port,
                port=self.port,
                access_log=f"{self.tmp}/access.log" if access_log else "off",
            )
        )
        kw = {}
        if os.geteuid() == 0:
            import pwd

            nobody = pwd.getpwnam("nobody")
            os.chown(self.tmp, nobody.pw_uid, nobody.pw_gid)
            kw = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        cmd = [binary, "-p", str(self.tmp), "-c", str(conf), "-e", f"{self.tmp}/error.log"]
        proc = _spawn(
            self.procs, self.logdir, self.name, [*cmd, "-g", "daemon off;"], self.tmp, None, **kw
        )
        wait_for(f"{self.url}/healthz", proc, expect_status=None)
        self.pid = proc.pid

    def stop(self) -> None:
        _stop(self.procs)
        if (self.tmp / "error.log").exists():  # kept with the other logs
            shutil.copy(self.tmp / "error.log", self.logdir / f"{self.name}-error.log")
        shutil.rmtree(self.tmp, ignore_errors=True)


class Fpdjango:
    """One fpdjango checkout: its own fresh PostgreSQL database, gunicorn with the checkout's
    fpdjango/gunicorn.conf.py and production settings, and (by default) nginx in front.

    Options go to gunicorn the stock way (`--bind --workers --threads` on its command line); a
    checkout whose gunicorn.conf.py reads GUNICORN_* from the environment instead (the annex,
    before the deletion) gets them there, and keeps its own worker class and runtime settings.
    """

    def __init__(
        self,
        *,
        name: str,
        checkout: Path,
        database_url: str,
        sandbox_url: str,
        logdir: Path,
        workers: int | None = None,
        threads: int | None = None,
        proxy: bool = True,
        nginx_workers: str = "auto",
        settings: dict | None = None,
    ) -> None:
        self.name, self.checkout = name, Path(checkout).resolve()
        self.database_url, self.logdir = database_url, logdir
        self.procs: list[subprocess.Popen] = []
        self.python = checkout_python(self.checkout)
        self.gunicorn_port = free_port()
        defaults = gunicorn_defaults(self.checkout)
        self.workers = workers or defaults.get("workers", 2)
        self.threads = threads or defaults.get("threads", 32)
        self.env = production_env(database_url, sandbox_url, proxies=1 if proxy else 0)
        self.env.update(settings or {})
        self.nginx = (
            Nginx(self.gunicorn_port, logdir, workers=nginx_workers, name=f"nginx-{name}")
            if proxy
            else None
        )
        self.url = self.nginx.url if self.nginx else f"http://127.0.0.1:{self.gunicorn_port}"
        self.server_pid = 0

    @property
    def reads_gunicorn_env(self) -> bool:
        return "GUNICORN_WORKERS" in (self.checkout / "fpdjango/gunicorn.conf.py").read_text()

    def prepare_database(self) -> None:
        fresh_database(self.database_url)
        for command in (["migrate", "--no-input", "-v", "0"], ["createcachetable"]):
            # The cache table holds the throttles' counters when REDIS_URL is unset (bin/serve).
            subprocess.run(
                [self.python, "manage.py", *command], cwd=self.checkout, env=self.env, check=True
            )

    def gunicorn_command(self) -> tuple[list[str], dict]:
        gunicorn = str(Path(self.python).parent / "gunicorn")
        cmd = [gunicorn, "-c", "fpdjango/gunicorn.conf.py"]
        env = dict(self.env)
        bind = f"127.0.0.1:{self.gunicorn_port}"
        if self.reads_gunicorn_env:
            env.update(
                GUNICORN_BIND=bind,
                GUNICORN_WORKERS=str(self.workers),
                GUNICORN_THREADS=str(self.threads),
            )
        else:
            cmd += ["--bind", bind, "--workers", str(self.workers), "--threads", str(self.threads)]
        return [*cmd, "fpdjango.wsgi:application"], env

    def start(self) -> None:
        self.prepare_database()
        cmd, env = self.gunicorn_command()
        proc = _spawn(self.procs, self.logdir, f"gunicorn-{self.name}", cmd, self.checkout, env)
        wait_for(f"http://127.0.0.1:{self.gunicorn_port}/healthz", proc)
        self.server_pid = proc.pid
        if self.nginx:
            self.nginx.start()

    @property
    def log(self) -> Path:
        return self.logdir / f"gunicorn-{self.name}.log"

    def describe(self) -> dict:
        return {
            "checkout": str(self.checkout),
            "commit": git_head(self.checkout),
            "workers": self.workers,
            "threads": self.threads,
            "gunicorn options": "environment (GUNICORN_*)"
            if self.reads_gunicorn_env
            else "command line",
            "proxy": f"nginx ({self.nginx.workers} workers)" if self.nginx else "none",
            "database": urlsplit(self.database_url).path.lstrip("/"),
        }

    def stop(self) -> None:
        if self.nginx:
            self.nginx.stop()
        _stop(self.procs)


def git_head(checkout: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return out.stdout.strip()[:72]


class Stack:
    """Sandbox + fpdjango (this checkout) with production settings, for the benchmarks that
    load one server: gunicorn alone by default, behind nginx with `args.proxy`."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.logdir = Path(tempfile.mkdtemp(prefix="signup-load-"))
        self.sandbox = Sandbox(self.logdir)
        self.sandbox_url = self.sandbox.url
        self.server = Fpdjango(
            name="fpdjango",
            checkout=ROOT,
            database_url=args.database_url,
            sandbox_url=self.sandbox_url,
            logdir=self.logdir,
            workers=getattr(args, "workers", None),
            threads=getattr(args, "threads", None),
            proxy=bool(getattr(args, "proxy", False)),
        )
        self.env = self.server.env
        self.url = self.server.url

    @property
    def port(self) -> int:
        return self.server.gunicorn_port

    def for_throughput(self) -> Stack:
        self.env.update(THROUGHPUT_SETTINGS)
        return self

    def start_sandbox(self) -> None:
        """The sandbox and a fresh, migrated database; `start` adds gunicorn."""
        self.sandbox.start()
        self.sandbox_pid = self.sandbox.pid
        self.server.prepare_database()

    def start(self) -> None:
        self.sandbox.start()
        self.sandbox_pid = self.sandbox.pid
        self.server.start()
        self.server_pid = self.server.server_pid
        self.proxy_pid = self.server.nginx.pid if self.server.nginx else 0

    def stop(self) -> None:
        self.server.stop()
        self.sandbox.stop()
        drop_database(self.server.database_url)


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


def gunicorn_defaults(checkout: Path = ROOT) -> dict:
    """The defaults a checkout's fpdjango/gunicorn.conf.py sets (no GUNICORN_* given)."""
    code = (
        "import json, runpy; c = runpy.run_path('fpdjango/gunicorn.conf.py');"
        "print(json.dumps({k: c[k] for k in ('workers', 'threads', 'timeout', 'max_requests')"
        " if k in c}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    out = subprocess.run(
        [checkout_python(checkout), "-c", code], cwd=checkout, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
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
