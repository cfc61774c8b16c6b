# ruff: noqa: N999 (gunicorn.conf.py is the name gunicorn itself looks for)
"""gunicorn settings for production: `gunicorn -c fpdjango/gunicorn.conf.py fpdjango.wsgi`.

A signup spends most of its time waiting on Fingerprint's Server API (tens to hundreds of ms),
so workers are threaded (`gthread`, taking connections only with a thread free: see
fpdjango/gunicorn_worker.py): a few processes for the CPU-bound parts (Django, JSON,
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

# Loopback by default: X-Forwarded-For is trusted (RISK_TRUSTED_PROXY_COUNT), so a client that could
# reach gunicorn directly would choose its own IP. Only the proxy on this host may connect; set
# GUNICORN_BIND (e.g. a private address, or 0.0.0.0 inside a container) on purpose.
bind = os.environ.get("GUNICORN_BIND", "").strip() or f"127.0.0.1:{_int('PORT', 8000)}"
# gthread, except that a worker takes a new connection only while it has a free thread
# (fpdjango/gunicorn_worker.py): stock gthread lets one worker hoard keep-alive clients.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "").strip() or (
    "fpdjango.gunicorn_worker.FreeThreadWorker"
)
# One process per core (at least two, so a recycled worker never leaves none): with one Argon2
# hash per process, exactly one per core runs at once. Twice as many processes ran two hashes
# per core, each slower for the other's cache, and let one device's flood make twice as many
# decisions at once (risk/device_gate.py turns are per process); on 2 cores, 2 x 32 against
# 4 x 16: accepts at 61-66% of the hashing limit against 55-57%, a legitimate user's p99 under
# a one-device flood 1.5-2.1x its own against 2.2-2.7x, refusals the same (docs/benchmarks.md).
workers = _int("GUNICORN_WORKERS", max(2, CORES))
# In-flight requests = workers * threads: on 2 cores, 64 cover ~600 signups/s at 100 ms upstream.
threads = _int("GUNICORN_THREADS", 32)
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


# Argon2 (accounts/hashers.py) runs on the same cores whichever process asks: one hash per core
# across all workers, not per process, is the most this machine hashes per second; more at
# once thrash the CPU cache (bench/argon2_processes.py, 4 workers on 2 cores with two arenas:
# 89 hashes/s with 2 per process, 99/s with 1).
# Each worker sets the cap after the fork (`post_fork`), from the workers gunicorn actually runs:
# `-w` on its command line overrides `workers` after this file has run. Only the worker's own
# environment changes, so the master (and a reload of this file) still sees the operator's
# ARGON2_MAX_CONCURRENT_HASHES, which stands when set.
ARGON2_CAP_CHOSEN = bool(os.environ.get("ARGON2_MAX_CONCURRENT_HASHES", "").strip())


def _argon2_cap_for(workers_running: int) -> None:
    """One hash per core across the workers actually running: in the environment (settings
    not loaded yet) and in the settings (loaded in the master with `preload_app`)."""
    cap = max(1, CORES // workers_running)
    os.environ["ARGON2_MAX_CONCURRENT_HASHES"] = str(cap)
    from django.conf import settings

    if settings.configured:
        settings.ARGON2_MAX_CONCURRENT_HASHES = cap


def _limit_malloc_arenas(arenas: int) -> None:
    """glibc gives each thread that allocates at once a malloc arena of its own (up to 8 per
    core), and each arena keeps the freed 19 MiB block of the last Argon2 hash it ran: 16
    threads could hold 300 MiB per process. With two arenas the next hash reuses a freed block
    instead of mapping and zeroing a fresh one (8 ms of kernel time, a third of a hash).
    MALLOC_ARENA_MAX in the environment (glibc reads it itself) takes precedence."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # glibc; other C libraries have no arenas to cap
    except (OSError, AttributeError):
        return
    m_arena_max = -8  # from glibc's malloc.h
    mallopt(m_arena_max, arenas)


_limit_malloc_arenas(2)  # in the master, before the workers fork and inherit it


# Python hands the GIL over every 5 ms by default: a thread back from the database waits that
# long for a busy sibling. 1 ms measured ~20% more refusals/s on 2 cores (docs/benchmarks.md).
SWITCH_INTERVAL_MS = _float("GUNICORN_SWITCH_INTERVAL_MS", 1.0)


def child_exit(server, worker):
    # The worker's share of connections (fpdjango/gunicorn_worker.py) no longer counts.
    if hasattr(worker, "slot"):
        from fpdjango.gunicorn_worker import forget_worker

        forget_worker(worker)
    # prometheus-client multiprocess mode: a dead worker's live gauges stop counting.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    import sys

    if not ARGON2_CAP_CHOSEN:
        _argon2_cap_for(server.cfg.workers)
    if SWITCH_INTERVAL_MS > 0:
        sys.setswitchinterval(SWITCH_INTERVAL_MS / 1000)
