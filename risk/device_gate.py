"""Signups of one device take turns inside a server process (`SIGNUP_DEVICE_CONCURRENCY`).

A device flooding the signup endpoint from many connections would otherwise have every thread
of a process deciding and writing at once, and every other user's request in that process
would wait for the GIL and the cores behind them. Past the Fingerprint fetch (the first point
at which the visitor id is known) a device gets a few turns per process at a time; its other
requests wait, first come first served, without using CPU. Devices never wait for each other,
and the flood's own throughput barely moves: its requests spend most of their time waiting on
Fingerprint, not in the gate.

This is fairness, not correctness: the device row lock decides (risk/services/signup.py), and
it does not rely on the gate. So a wait is bounded: after
MAX_WAIT_S a signup goes ahead without its turn (counted in fpdjango_device_turn_waits_total,
outcome `timed_out`), and the turn covers the decision and its writes only, not the password
hash or the host's `signup_decided` receivers. It is per process on purpose: a
node-wide turn would cap one device's refusals at one at a time for the whole node (and their
latency with it), and a slow process could stall the others.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

from risk.conf import risk_settings
from risk.observability import DEVICE_TURN_WAITS

# Fairness only, so a turn is never worth a stuck request: a signup that has waited this long
# (its device's turn held by a request stuck on a lock or a slow database) goes ahead without.
MAX_WAIT_S = 2.0


@dataclass
class _Turns:
    free: int  # fixed when the first signup of a device arrives; see device_gate()
    waiting: deque = field(default_factory=deque)  # one held Lock per waiting thread
    users: int = 0  # threads holding or waiting for a turn; the entry goes at 0


_guard = threading.Lock()
_devices: dict[str, _Turns] = {}


@contextmanager
def device_gate(visitor_id: str | None):
    """Hold one of this process's turns for `visitor_id` for the duration of the block.

    The number of turns is read when a device's first signup arrives; a device whose signups
    keep arriving keeps it until they stop (settings are read once per process anyway)."""
    slots = risk_settings().device_concurrency
    if not visitor_id or slots <= 0:
        yield
        return
    handover = None  # set while this thread waits for a hand-over
    with _guard:
        turns = _devices.get(visitor_id)
        if turns is None:
            turns = _devices[visitor_id] = _Turns(free=slots)
        turns.users += 1
        holding = turns.free > 0
        if holding:
            turns.free -= 1
        else:
            handover = threading.Lock()
            handover.acquire()
            turns.waiting.append(handover)
    try:
        if handover is not None:
            # Released by the thread that hands its turn over to us; 2 s at most.
            handover.acquire(timeout=MAX_WAIT_S)
            with _guard:
                holding, handover = _settle(turns, handover), None
            DEVICE_TURN_WAITS.labels("turn" if holding else "timed_out").inc()
        yield
    finally:
        with _guard:
            if handover is not None:  # the wait itself was interrupted
                holding = _settle(turns, handover)
            turns.users -= 1
            if holding:
                if turns.waiting:
                    turns.waiting.popleft().release()  # the turn passes on; `free` stays
                else:
                    turns.free += 1
            if not turns.users:
                del _devices[visitor_id]


def _settle(turns: _Turns, handover: threading.Lock) -> bool:
    """Under _guard, once a waiter stops waiting: whether the turn was handed to it (its handover
    left the queue, even if that happened just after a timeout); if not, it leaves the queue."""
    if handover in turns.waiting:
        turns.waiting.remove(handover)
        return False
    return True


def devices_in_gate() -> int:
    """Devices with a signup holding or waiting for a turn in this process (tests)."""
    with _guard:
        return len(_devices)
