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
would break a client's next request).

Nor does a free thread make the spread fair: clients that connect together while the
threads are free (a proxy opening its keep-alive pool, a load generator) land wherever the
kernel wakes first: on 2 workers, 32 clients landed 29/3, 28/4, 26/6 or 18/14. Each worker's
Python runs on one core at a time (the GIL), so the clients of the crowded worker wait for
its core while the other answers its few at once; at 29/3 the whole server once answered
957/s against 1,549/s at 18/14 (docs/benchmarks.md). So the workers also share, through
memory the master maps before forking, how many connections each holds (`ConnectionShares`),
and a worker takes a new one only while it holds at most one more than the fewest held by any
worker with a free thread: the worker holding the fewest always may, so someone always takes
the connection.

It relies on gthread's own hooks (`enqueue_req`, `finish_request`, `set_accept_enabled`,
`accept`, `notify`, `wait_for_and_dispatch_events`, `nr_conns`), as of gunicorn 27.0 (pinned
below 28 in pyproject.toml): the import fails loudly if they are gone, and
tests/test_gunicorn_worker.py runs the worker under a real gunicorn.
"""

from __future__ import annotations

import multiprocessing
import time

from gunicorn.workers.gthread import ThreadWorker
from prometheus_client import Counter

# Summed over every worker with PROMETHEUS_MULTIPROC_DIR (bin/serve), like the app's metrics.
STALLS = Counter(
    "fpdjango_gunicorn_worker_stalls",
    "Times a gunicorn worker had every thread taken and none finished for GUNICORN_TIMEOUT",
)

_HOOKS = (
    "enqueue_req",
    "finish_request",
    "set_accept_enabled",
    "accept",
    "notify",
    "wait_for_and_dispatch_events",
    "run",
)
if missing := [name for name in _HOOKS if not hasattr(ThreadWorker, name)]:
    raise ImportError(
        f"gunicorn's gthread worker has no {', '.join(missing)}: FreeThreadWorker needs "
        "gunicorn 27.0; set GUNICORN_WORKER_CLASS=gthread to run the stock worker"
    )


# A worker that holds more than this many connections above the fewest held elsewhere leaves
# new ones to the others.
SHARE_SLACK = 1
# While a worker leaves new connections to the others, nothing wakes it when they catch up
# (its own requests may, later): it looks again after 1 ms, then twice as long each time it
# is still held off, up to 50 ms. When 64 clients connected at once to workers answering in
# 100 ms, a fixed 50 ms delayed their first answers by 100-200 ms, 5 ms by 15-30 ms, and 1 ms
# by nothing measurable; the doubling spares a worker held off for long a thousand wake-ups a
# second, and the 50 ms cap bounds the wait when it is the one that should take a burst.
HELD_OFF_FIRST_WAIT_S, HELD_OFF_LAST_WAIT_S = 0.001, 0.05


class ConnectionShares:
    """How many connections each worker holds, in memory shared by every worker: made in the
    master (this module is imported there to load the worker class) and inherited by each
    fork. The master gives each worker a slot before forking it and frees it when the worker
    exits (`child_exit`); a worker writes only its own slot, at every pass of its loop (at
    least once a second). A slot not written for FRESH_S is not counted: its worker is stuck,
    stopped or dead, and takes no connections either."""

    SLOTS = 256  # workers beyond this many run without the fair share (always may accept)
    UNAVAILABLE = 2**62  # a worker with every thread taken, or shutting down: not a share
    FRESH_S = 2.0

    def __init__(self) -> None:
        self.held = multiprocessing.RawArray("q", self.SLOTS)
        self.written_at = multiprocessing.RawArray("d", self.SLOTS)  # monotonic; 0: free
        self.top = multiprocessing.RawValue("q", 0)  # slots past this one were never used

    def assign(self, *, stale_after_s: float) -> int | None:
        """In the master, for a worker about to be forked: a free slot, or one silent longer
        than gunicorn lets a worker live (its `child_exit` never came)."""
        now = time.monotonic()
        for slot in range(self.SLOTS):
            if not self.written_at[slot] or now - self.written_at[slot] > stale_after_s:
                self.held[slot], self.written_at[slot] = self.UNAVAILABLE, now
                self.top.value = max(self.top.value, slot + 1)
                return slot
        return None

    def free(self, slot: int) -> None:
        self.held[slot], self.written_at[slot] = self.UNAVAILABLE, 0.0

    def write(self, slot: int, held: int) -> None:
        self.held[slot], self.written_at[slot] = held, time.monotonic()

    def fewest(self) -> int:
        """The fewest connections held by a worker that can take one."""
        fewest, now = self.UNAVAILABLE, time.monotonic()
        for slot in range(self.top.value):
            if self.held[slot] < fewest and now - self.written_at[slot] < self.FRESH_S:
                fewest = self.held[slot]
        return fewest


SHARES = ConnectionShares()


def forget_worker(worker) -> None:
    """For gunicorn's `child_exit`, in the master (fpdjango/gunicorn.conf.py): the worker is
    gone, its slot is free."""
    if getattr(worker, "slot", None) is not None:
        SHARES.free(worker.slot)


class FreeThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy = 0  # requests handed to the pool and not finished; main thread only
        self.progress_at = time.monotonic()  # the last finish, or when the threads filled up
        self.stall_logged = False
        # In the master, before the fork (workers are made one at a time there).
        self.slot = SHARES.assign(stale_after_s=self.cfg.timeout + 10)
        self.held_off = False  # would accept, but holds more than its share
        self.held_off_wait = HELD_OFF_FIRST_WAIT_S

    def run(self) -> None:
        # Counted from the loop's start: a worker still loading the app (without preload_app,
        # seconds) must not look like the one the others leave new connections to.
        try:
            super().run()
        finally:
            self.alive = False
            self.publish()

    def has_free_thread(self) -> bool:
        return self.busy < self.cfg.threads

    def publish(self) -> None:
        """This worker's count for the others to match; none while every thread is taken or
        while it shuts down (it takes no more connections, and may linger for seconds)."""
        if self.slot is not None:
            free = self.alive and self.has_free_thread()
            SHARES.write(self.slot, self.nr_conns if free else SHARES.UNAVAILABLE)

    def within_share(self) -> bool:
        """May this worker take one more connection? Yes while it holds at most SHARE_SLACK
        more than the worker with a free thread holding the fewest (itself, possibly)."""
        if self.slot is None:
            return True
        self.publish()
        return self.nr_conns <= SHARES.fewest() + SHARE_SLACK

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop asks for accepting whenever it holds fewer than worker_connections;
        # it stays off while every thread is taken, or while this worker holds more than its
        # share.
        fair = self.within_share() if enabled and self.has_free_thread() else True
        self.held_off = enabled and not fair
        super().set_accept_enabled(enabled and self.has_free_thread() and fair)

    def accept(self, listener) -> None:
        # With several listeners, one poll can report more than one: the first accept may
        # have taken the last free thread. Another worker may have taken connections since
        # the poll, too.
        if self.has_free_thread() and self.within_share():
            super().accept(listener)
        if self._accepting and not (self.has_free_thread() and self.within_share()):
            self.set_accept_enabled(False)
            self.held_off = self.has_free_thread()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.held_off:
            timeout = min(timeout, self.held_off_wait)
            self.held_off_wait = min(self.held_off_wait * 2, HELD_OFF_LAST_WAIT_S)
        else:
            self.held_off_wait = HELD_OFF_FIRST_WAIT_S
        super().wait_for_and_dispatch_events(timeout)

    def enqueue_req(self, conn) -> None:
        super().enqueue_req(conn)
        self.busy += 1  # after the submit: a submit that raised never finishes
        if self.busy == self.cfg.threads:  # the last free thread just went (more only queue)
            self.set_accept_enabled(False)
            self.progress_at = time.monotonic()
            self.publish()

    def finish_request(self, conn, fs) -> None:
        self.busy -= 1
        self.progress_at, self.stall_logged = time.monotonic(), False
        super().finish_request(conn, fs)  # may enqueue the connection again (read-ahead)

    def notify(self) -> None:
        """The main loop's heartbeat (at least once a second, and after every event): the
        share is published and looked at again. gunicorn's timeout watches the
        loop, which goes on while request threads hang: a worker whose threads are all taken,
        with none finished for GUNICORN_TIMEOUT seconds, takes no connections and says so (a
        warning, and fpdjango_gunicorn_worker_stalls_total)."""
        super().notify()
        self.publish()  # also the slot's sign of life
        if self.alive:
            self.set_accept_enabled(self.nr_conns < self.worker_connections)
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
