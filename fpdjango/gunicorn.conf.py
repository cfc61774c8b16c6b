# ruff: noqa: N999 (gunicorn.conf.py is the name gunicorn itself looks for)
"""gunicorn settings for production: `gunicorn -c fpdjango/gunicorn.conf.py fpdjango.wsgi`.

A signup spends most of its time waiting on Fingerprint's Server API, so workers are gunicorn's
own threaded workers (`gthread`): a few processes for the CPU-bound parts (Django, JSON, Argon2)
and many threads per process to overlap the waiting.

These are defaults, not a second settings mechanism: change any of them the way gunicorn reads
its own options, on the command line (`bin/serve --workers 4`) or in `GUNICORN_CMD_ARGS`
(docs/deployment.md).
"""

import os

# Loopback: gunicorn sits behind a reverse proxy on the same host (docs/deployment.md), and
# Django trusts X-Forwarded-For from it (RISK_TRUSTED_PROXY_COUNT), so nothing else may reach it.
bind = "127.0.0.1:8000"
worker_class = "gthread"
# One process per core, at least two so that a recycled worker never leaves none.
workers = max(2, os.cpu_count() or 1)
# Requests in flight per process while they wait on Fingerprint.
threads = 32

# The slowest legitimate request is one Fingerprint lookup (its whole budget, retries included)
# plus the database work and one Argon2 hash: well under this.
timeout = 30
graceful_timeout = 10
# Below the proxy's upstream idle timeout (nginx: 60 s), so idle sockets are closed by us first.
keepalive = 5

# Recycle workers now and then so that a slow leak cannot grow without bound; the jitter keeps
# them from all restarting at once.
max_requests = 20000
max_requests_jitter = 2000

# Load Django once in the master: workers fork with it ready. Connections (database,
# Fingerprint) open lazily in each worker, after the fork.
preload_app = True

errorlog = "-"
# The proxy logs every request already.
accesslog = None
# Several servers on one host would fight over the default control socket; nothing uses it.
control_socket_disable = True


def child_exit(server, worker):
    # prometheus-client multiprocess mode: a dead worker's live gauges stop counting.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
