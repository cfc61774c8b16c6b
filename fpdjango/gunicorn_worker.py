"""A gthread worker that takes a new connection only when it has a thread free for it.

gunicorn's threaded worker accepts every connection it can (up to `worker_connections`, 1000)
and queues it for its thread pool, even when all its threads are busy: the kernel hands a
new connection to whichever worker polls first, not to an idle one (benoitc/gunicorn#3433,
#908). With keep-alive clients the first hand-out sticks. Measured here with 64 keep-alive
clients on 4 workers x 16 threads: one worker held 41 of them and the others 4 to 11, so its
requests queued for its threads and its GIL (one core) while the machine sat 40% idle, and
every user whose connection landed there waited with them (docs/benchmarks.md).

This worker counts the requests it has handed to its pool and not yet finished, and stops
polling the listening socket while that count is at its thread count: connections then wait in
the kernel's backlog for a worker with a free thread. Kept-alive connections it already holds
are served as before (refusing them would break a client's next request).

It relies on gthread's own hooks (`enqueue_req`, `finish_request`, `set_accept_enabled`),
which exist as of the pinned gunicorn (requirements.txt); tests/test_gunicorn_worker.py runs
it under a real gunicorn and fails if they change.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class FreeThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests handed to the pool and not finished; main thread only

    def has_free_thread(self) -> bool:
        return self.busy < self.cfg.threads

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks for accepting whenever it holds fewer than worker_connections;
        # it stays off while every thread is taken.
        super().set_accept_enabled(enabled and self.has_free_thread())

    def enqueue_req(self, conn) -> None:
        self.busy += 1
        super().enqueue_req(conn)
        if not self.has_free_thread():
            self.set_accept_enabled(False)

    def finish_request(self, conn, fs) -> None:
        self.busy -= 1
        super().finish_request(conn, fs)  # may enqueue the connection again (read-ahead)
