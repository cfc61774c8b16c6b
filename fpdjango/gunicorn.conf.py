# ruff: noqa: N999 (gunicorn.conf.py is the name gunicorn itself looks for)
"""gunicorn settings for production: `gunicorn -c fpdjango/gunicorn.conf.py fpdjango.wsgi`.

A signup spends most of its time waiting on Fingerprint's Server API (tens to hundreds of ms),
so workers are threaded (`gthread`): a few processes for the CPU-bound parts (Django, JSON,
Argon2, which releases the GIL) and many threads per process to overlap the waiting. Every
value can be overridden from the environment (GUNICORN_*), see README "Production".
"""

import math
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


CORES = os.cpu_count() or 1

bind = os.environ.get("GUNICORN_BIND", "").strip() or f"0.0.0.0:{_int('PORT', 8000)}"
worker_class = "gthread"
# Two processes per core keep both cores busy while some threads hold the GIL.
workers = _int("GUNICORN_WORKERS", 2 * CORES)
# In-flight requests = workers * threads; 16 each covers ~300 signups/s at 100 ms upstream.
threads = _int("GUNICORN_THREADS", 16)
# Threads also park idle keep-alive connections; allow well more than `threads` of them.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)

# The slowest legitimate request is one Fingerprint lookup (its whole budget, retries
# included) plus the database work and one Argon2 hash: give that generous headroom.
FINGERPRINT_TIMEOUT_S = _float("FINGERPRINT_TIMEOUT_S", 2.0)
timeout = _int("GUNICORN_TIMEOUT", math.ceil(FINGERPRINT_TIMEOUT_S) + 28)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", math.ceil(FINGERPRINT_TIMEOUT_S) + 8)
# Behind a proxy, keep-alive to it saves a connection per request; it must stay below the
# proxy's own upstream idle timeout (nginx: 60 s), so idle sockets are closed by us first.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Recycle workers now and then so a slow leak (in us or a library) cannot grow without bound.
# The jitter keeps the workers from all restarting at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", max(1, max_requests // 10))

# Load Django once in the master: workers fork with it ready (fast, copy-on-write memory),
# so a recycled worker is back in milliseconds. Connections (DB, Fingerprint) open lazily,
# per worker, after the fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in ("0", "false", "False", "")

# Access logs cost throughput and duplicate the proxy's; "-" (stdout) or a path turns them on.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "").strip() or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Heartbeat files in RAM, not on a possibly slow disk (gunicorn creates them with mkstemp).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn's control socket defaults to one path per user: several servers on one host would
# fight over it, and nothing here uses it.
control_socket_disable = True
# X-Forwarded-* are honoured only from the proxies listed here (Django reads the client IP
# itself, with RISK_TRUSTED_PROXY_COUNT).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")


# Python hands the GIL over every 5 ms by default: a thread back from the database waits that
# long for a busy sibling. 1 ms measured ~20% more refusals/s on 2 cores (docs/benchmarks.md).
SWITCH_INTERVAL_MS = _float("GUNICORN_SWITCH_INTERVAL_MS", 1.0)


def post_fork(server, worker):
    import sys

    if SWITCH_INTERVAL_MS > 0:
        sys.setswitchinterval(SWITCH_INTERVAL_MS / 1000)
