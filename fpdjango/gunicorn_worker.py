"""A gthread worker that takes a new connection only when it has a thread free for it.

gunicorn's threaded worker accepts every connection it can (up to `worker_connections`, 1000)
and queues it for its thread pool, even when all its threads are busy: the kernel hands a
new connection to whichever worker polls first, not to an idle one (benoitc/gunicorn#3433,
#908). With keep-alive clients the first hand-out sticks. Measured here with 64 keep-alive
clients on 4 workers x 16 threads: one worker held 41 of them and the others 4 to 11, so its
requests queued for its threads and its GIL (one core) while the machine sat 40% idle, and
every user whose connection landed there waited with them (docs/benchmarks.md).

This worker counts the requests it has handed to its pool and not yet finished, and stops
polling the listening socket while that count is at its thread count: new connections then
wait in the kernel's backlog for a worker with a free thread. What it does not do is move a
connection it already holds: kept-alive connections are served where they are (refusing them
would break a client's next request), so clients that connected while the server was idle
stay wherever they landed.

It relies on gthread's own hooks (`enqueue_req`, `finish_request`, `set_accept_enabled`,
`accept`), as of gunicorn 27.0 (pinned below 28 in pyproject.toml): the import fails loudly if
they are gone, and tests/test_gunicorn_worker.py runs the worker under a real gunicorn.
"""

from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker
from prometheus_client import Counter

# Summed over every worker with PROMETHEUS_MULTIPROC_DIR (bin/serve), like the app's metrics.
STALLS = Counter(
    "fpdjango_gunicorn_worker_stalls",
    "Times a gunicorn worker had every thread taken and none finished for GUNICORN_TIMEOUT",
)

_HOOKS = ("enqueue_req", "finish_request", "set_accept_enabled", "accept", "notify")
if missing := [name for name in _HOOKS if not hasattr(ThreadWorker, name)]:
    raise ImportError(
        f"gunicorn's gthread worker has no {', '.join(missing)}: FreeThreadWorker needs "
        "gunicorn 27.0; set GUNICORN_WORKER_CLASS=gthread to run the stock worker"
    )


class FreeThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests handed to the pool and not finished; main thread only
        self.progress_at = time.monotonic()  # the last finish, or when the threads filled up
        self.stall_logged = False

    def has_free_thread(self) -> bool:
        return self.busy < self.cfg.threads

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks for accepting whenever it holds fewer than worker_connections;
        # it stays off while every thread is taken.
        super().set_accept_enabled(enabled and self.has_free_thread())

    def accept(self, listener) -> None:
        # With several listeners, one poll can report more than one: the first accept may
        # have taken the last free thread.
        if self.has_free_thread():
            super().accept(listener)

    def enqueue_req(self, conn) -> None:
        super().enqueue_req(conn)
        self.busy += 1  # after the submit: a submit that raised never finishes
        if self.busy == self.cfg.threads:  # the last free thread just went (more only queue)
            self.set_accept_enabled(False)
            self.progress_at = time.monotonic()

    def finish_request(self, conn, fs) -> None:
        self.busy -= 1
        self.progress_at, self.stall_logged = time.monotonic(), False
        super().finish_request(conn, fs)  # may enqueue the connection again (read-ahead)

    def notify(self) -> None:
        """The main loop's heartbeat (at least once a second). gunicorn's timeout watches the
        loop, which goes on while request threads hang: a worker whose threads are all taken,
        with none finished for GUNICORN_TIMEOUT seconds, takes no connections and says so (a
        warning, and fpdjango_gunicorn_worker_stalls_total)."""
        super().notify()
        stalled_s = time.monotonic() - self.progress_at
        if not self.has_free_thread() and stalled_s > self.cfg.timeout and not self.stall_logged:
            self.stall_logged = True
            STALLS.inc()
            self.log.warning(
                "worker %s: all %s threads busy and no request finished for %.0f s "
                "(GUNICORN_TIMEOUT %s s): hung requests? It takes no new connections meanwhile.",
                self.pid,
                self.cfg.threads,
                stalled_s,
                self.cfg.timeout,
            )
