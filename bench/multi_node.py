"""Many processes, many machines, on one machine: the shared limits and the workers hold.

    .venv/bin/python bench/multi_node.py            # the figures in docs/benchmarks.md

Starts two gunicorn instances (two "nodes", 2 worker processes each) on two ports, sharing
one PostgreSQL database (--database-url, dropped and migrated) and one Redis (--redis-url,
keys under a fresh prefix, its own Celery queue), a Celery worker, and the Fingerprint
sandbox. Requests alternate between the nodes. It shows:

1. the per-IP throttle allows N in total across both nodes, not 2N;
2. the per-visitor throttle likewise;
3. a DRN lookup a signup had to defer (DRN slow) is done by the worker within seconds;
4. the DRN rate cap (FINGERPRINT_DRN_RPS) holds across every process (both nodes' workers and
   the Celery worker), measured by the sandbox over a window of saturating Android signups;
5. a Celery worker SIGKILLed in the middle of `backfill_events --workers 2` and restarted:
   every snapshot is stored once, none lost, none duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.stack import free_port, fresh_database, wait_for  # noqa: E402
from sandbox.control import SandboxControl  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
SANDBOX_KEY = "sandbox-secret-key"
PASSWORD = "correct-horse-battery-9"


class Stack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: dict[str, subprocess.Popen] = {}
        self.logdir = Path(tempfile.mkdtemp(prefix="multi-node-"))
        self.prefix = f"bench-{os.getpid()}"
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.ports = [free_port(), free_port()]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            # The loopback sandbox in production (risk.E011, E012)
            "FINGERPRINT_SANDBOX_IN_PRODUCTION": "1",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "REDIS_KEY_PREFIX": self.prefix,
            "CELERY_QUEUE": self.prefix,
            # A killed worker's task comes back this fast (production default: 600 s).
            "CELERY_VISIBILITY_TIMEOUT_S": "10",
            "FINGERPRINT_API_URL": self.sandbox_url,
            "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY,
            "FINGERPRINT_MAX_RETRIES": "0",
            "FINGERPRINT_DRN_RPS": str(args.drn_rps),
            "RISK_TRUSTED_PROXY_COUNT": "1",  # the bench plays the proxy: X-Forwarded-For
            "RISK_CHECK_IP": "0",
            "SIGNUP_THROTTLE_RATE": f"{args.ip_limit}/hour",
            "SIGNUP_THROTTLE_VISITOR_RATE": f"{args.visitor_limit}/hour",
            "SANDBOX_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
            # Connections closed after each request: the PostgreSQL is shared with others.
            "DB_CONN_MAX_AGE": "0",
        }

    def spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "ab")  # noqa: SIM115 (lives with the process)
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def worker(self, name: str = "worker") -> subprocess.Popen:
        return self.spawn(
            name,
            [
                PY,
                "-m",
                "celery",
                "-A",
                "fpdjango",
                "worker",
                "-Q",
                self.prefix,
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{name}-{self.prefix}@%h",
                "--loglevel",
                "INFO",
            ],
        )

    def start(self) -> None:
        fresh_database(self.args.database_url)
        for command in (["migrate", "--no-input", "-v", "0"], ["createcachetable"]):
            subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=self.env, check=True)
        port = self.sandbox_url.rsplit(":", 1)[1]
        sandbox = self.spawn(
            "sandbox",
            [PY, "manage.py", "runsandbox", "--port", port, "--db", ":memory:"],
            {**self.env, "SANDBOX_ENABLED": "1"},
        )
        wait_for(f"{self.sandbox_url}/healthz", sandbox)
        for i, port in enumerate(self.ports):
            metrics = self.logdir / f"prometheus-{i}"
            metrics.mkdir()
            node = self.spawn(
                f"node{i}",
                [
                    str(Path(PY).parent / "gunicorn"),
                    "-c",
                    "fpdjango/gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "8",
                    "fpdjango.wsgi:application",
                ],
                {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
            )
            wait_for(f"{self.urls[i]}/healthz", node)
        self.worker()

    def kill(self, name: str, sig=signal.SIGTERM) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)
        client = redis.Redis.from_url(self.args.redis_url)
        keys = list(client.scan_iter(f"{self.prefix}*"))  # (task results expire by themselves)
        if keys:
            client.delete(*keys)


def post_signup(url: str, body: dict, ip: str) -> int:
    response = requests.post(
        f"{url}/api/signup", json=body, headers={"X-Forwarded-For": ip}, timeout=30
    )
    return response.status_code


def db(args):
    return psycopg.connect(args.database_url.replace("postgres://", "postgresql://", 1))


def proof_ip_throttle(stack: Stack, args) -> dict:
    n = args.ip_limit * 3
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda i: post_signup(stack.urls[i % 2], {}, "198.51.100.1"), range(n))
        )
    allowed = sum(code != 429 for code in codes)
    return {"limit": args.ip_limit, "sent": n, "allowed": allowed, "throttled": codes.count(429)}


def proof_visitor_throttle(stack: Stack, control: SandboxControl, args) -> dict:
    first = control.create_event("human")
    visitor = first["identification"]["visitor_id"]
    n = args.visitor_limit * 3
    events = [first["event_id"]] + [
        control.create_event("human", visitor_id=visitor)["event_id"] for _ in range(n - 1)
    ]

    def one(i):
        body = {"event_id": events[i], "username": f"visitor{i}", "password": PASSWORD}
        return post_signup(stack.urls[i % 2], body, f"203.0.113.{i % 250 + 1}")

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(n)))
    allowed = sum(code != 429 for code in codes)
    return {
        "limit": args.visitor_limit,
        "sent": n,
        "allowed": allowed,
        "throttled": codes.count(429),
        "created": codes.count(201),
    }


def proof_drn_rate(stack: Stack, control: SandboxControl, args) -> dict:
    """Android signups from many threads on both nodes, for --drn-seconds: DRN requests per
    second as the sandbox counted them."""
    count = int(args.drn_seconds * 40)
    ids = control.bulk_events(count, profile="android", visitors=count)
    stop = time.monotonic() + args.drn_seconds
    sent = []

    def client(k):
        i = k
        while time.monotonic() < stop and i < len(ids):
            body = {"event_id": ids[i], "username": f"droid{i}", "password": PASSWORD}
            sent.append(post_signup(stack.urls[i % 2], body, f"192.0.2.{i % 250 + 1}"))
            i += 16

    def drn_count() -> tuple[float, int]:
        return time.monotonic(), control.stats()["requests"].get("drn", 0)

    # Measured inside the saturated stretch: from 3 s after the start to 1 s before the end.
    with ThreadPoolExecutor(16) as pool:
        clients = [pool.submit(client, k) for k in range(16)]
        time.sleep(3)
        t0, n0 = drn_count()
        time.sleep(args.drn_seconds - 4)
        t1, n1 = drn_count()
        for future in clients:
            future.result()
    rate = (n1 - n0) / (t1 - t0)
    return {
        "cap_rps": args.drn_rps,
        "signups": len(sent),
        "window_s": round(t1 - t0, 1),
        "drn_requests_in_window": n1 - n0,
        "measured_rps": round(rate, 2),
        "error_pct": round(100 * (rate - args.drn_rps) / args.drn_rps, 1),
        "within_10pct": abs(rate - args.drn_rps) <= 0.1 * args.drn_rps,
    }


def proof_deferred_drn(stack: Stack, control: SandboxControl, args) -> dict:
    """DRN slower than the signup's budget once: the signup defers, the worker does it."""
    event = control.create_event("android")
    visitor = event["identification"]["visitor_id"]
    control.set_faults(target="drn", latency_ms=1500, count=1)
    body = {"event_id": event["event_id"], "username": "deferred1", "password": PASSWORD}
    answered = time.monotonic()
    code = post_signup(stack.urls[0], body, "192.0.2.250")
    answered = time.monotonic()
    with db(args) as conn:
        pending = conn.execute(
            "SELECT drn_lookup_pending FROM risk_device WHERE visitor_id = %s", [visitor]
        ).fetchone()[0]
        done_after = None
        while time.monotonic() - answered < 60:
            row = conn.execute(
                "SELECT d.drn_lookup_pending, a.drn_snapshot_id FROM risk_device d "
                "JOIN risk_signupattempt a ON a.device_id = d.id WHERE d.visitor_id = %s",
                [visitor],
            ).fetchone()
            if row and not row[0] and row[1]:
                done_after = time.monotonic() - answered
                break
            time.sleep(0.1)
    control.clear_faults()
    return {
        "signup_status": code,
        "pending_after_signup": pending,
        "done_by_worker_after_s": round(done_after, 2) if done_after else None,
    }


def proof_backfill_kill(stack: Stack, control: SandboxControl, args) -> dict:
    """Signups while Fingerprint is down, then a 2-worker backfill whose worker is killed."""
    n = args.backfill_rows
    ids = control.bulk_events(n, profile="human", visitors=n)
    control.set_faults(target="events", status=500)

    def one(i):
        body = {"event_id": ids[i], "username": f"outage{i}", "password": PASSWORD}
        return post_signup(stack.urls[i % 2], body, f"10.9.{i // 250}.{i % 250 + 1}")

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(n)))
    control.clear_faults()
    with db(args) as conn:
        missing = conn.execute(
            "SELECT count(*) FROM risk_signupattempt WHERE fingerprint_event_id IS NULL "
            "AND username LIKE 'outage%%'"
        ).fetchone()[0]
    fetched_before = control.stats()["requests"].get("v4_get_event", 0)
    command = subprocess.Popen(
        [
            PY,
            "manage.py",
            "backfill_events",
            "--workers",
            "2",
            "--rps",
            str(args.backfill_rps),
            "--batch-size",
            "10",  # chunks commit every 10 rows: the kill lands mid-chunk
            "--no-progress",
        ],
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = time.monotonic()
    # Kill the worker (SIGKILL: no warm shutdown, its running chunks stay unacknowledged)
    # once about a third of the rows are stored, then start a new one.
    with db(args) as conn:
        while True:
            stored = conn.execute(
                "SELECT count(*) FROM risk_signupattempt WHERE fingerprint_event_id IS NOT NULL "
                "AND username LIKE 'outage%%'"
            ).fetchone()[0]
            if stored >= n // 3 or time.monotonic() - started > 120:
                break
            time.sleep(0.05)
    stack.kill("worker", signal.SIGKILL)
    killed_at = stored
    stack.worker("worker2")
    output, _ = command.communicate(timeout=600)
    took = time.monotonic() - started
    with db(args) as conn:
        after = conn.execute(
            "SELECT count(*) FILTER (WHERE a.fingerprint_event_id IS NULL), "
            "count(DISTINCT a.fingerprint_event_id), count(e.id) FROM risk_signupattempt a "
            "LEFT JOIN risk_fingerprintevent e ON e.id = a.fingerprint_event_id "
            "WHERE a.username LIKE 'outage%%'"
        ).fetchone()
        events = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM risk_fingerprintevent "
            "WHERE event_id = ANY(%s)",
            [ids],
        ).fetchone()
        counters = conn.execute(
            "SELECT coalesce(sum(attempt_count), 0), count(*) FROM risk_device d "
            "WHERE d.visitor_id IN (SELECT visitor_id FROM risk_fingerprintevent "
            "WHERE event_id = ANY(%s))",
            [ids],
        ).fetchone()
    return {
        "rows": n,
        "outage_signups_201": codes.count(201),
        "missing_before": missing,
        "stored_when_worker_killed": killed_at,
        "command_exit": command.returncode,
        "missing_after": after[0],
        "attempts_linked": after[1],
        "snapshots": events[0],
        "distinct_snapshots": events[1],
        "device_attempt_count_sum": counters[0],
        "devices": counters[1],
        "event_fetches": control.stats()["requests"].get("v4_get_event", 0) - fetched_before,
        "seconds": round(took, 1),
        "command_output": output.strip().splitlines()[-12:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/fpdjango_multinode"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--ip-limit", type=int, default=20)
    parser.add_argument("--visitor-limit", type=int, default=5)
    # A cap well under what the signups ask for on this 2-core machine (~5 Android signups/s,
    # each paying an Argon2 hash), so the cap, not the load, sets the measured rate.
    parser.add_argument("--drn-rps", type=float, default=3.0)
    parser.add_argument("--drn-seconds", type=float, default=24.0)
    parser.add_argument("--backfill-rows", type=int, default=300)
    parser.add_argument("--backfill-rps", type=float, default=20.0)
    args = parser.parse_args()
    stack = Stack(args)
    results = {}
    try:
        stack.start()
        control = SandboxControl(stack.sandbox_url)
        control.set_faults(drn_rps=1000, drn_burst=1000)  # the sandbox must not be the cap
        results["ip_throttle"] = proof_ip_throttle(stack, args)
        results["visitor_throttle"] = proof_visitor_throttle(stack, control, args)
        results["deferred_drn"] = proof_deferred_drn(stack, control, args)
        results["drn_rate"] = proof_drn_rate(stack, control, args)
        results["backfill_worker_killed"] = proof_backfill_kill(stack, control, args)
    finally:
        stack.stop()
        print(f"logs: {stack.logdir}", file=sys.stderr)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
