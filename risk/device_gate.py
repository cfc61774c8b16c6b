"""Signups of one device take turns inside a server process (`SIGNUP_DEVICE_CONCURRENCY`).

A device flooding the signup endpoint from many connections would otherwise have every thread
of a process deciding and writing at once, and every other user's request in that process
would wait for the GIL and the cores behind them. Past the Fingerprint fetch (the first point
at which the visitor id is known) a device gets a few turns per process at a time; its other
requests wait, first come first served, without using CPU. Devices never wait for each other,
and the flood's own throughput barely moves: its requests spend most of their time waiting on
Fingerprint, not in the gate (docs/benchmarks.md, "Current: 2026-11-27").

This is fairness, not correctness: the device row lock and the lock-free refusal path decide
(risk/services/signup.py), and they do not rely on the gate. It is per process on purpose: a
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


@dataclass
class _Turns:
    free: int
    waiting: deque = field(default_factory=deque)  # one held Lock per waiting thread
    users: int = 0  # threads holding or waiting for a turn; the entry goes at 0


_guard = threading.Lock()
_devices: dict[str, _Turns] = {}


@contextmanager
def device_gate(visitor_id: str | None):
    """Hold one of this process's turns for `visitor_id` for the duration of the block."""
    slots = risk_settings().device_concurrency
    if not visitor_id or slots <= 0:
        yield
        return
    with _guard:
        turns = _devices.get(visitor_id)
        if turns is None:
            turns = _devices[visitor_id] = _Turns(free=slots)
        turns.users += 1
        if turns.free:
            turns.free -= 1
            baton = None
        else:
            baton = threading.Lock()
            baton.acquire()
            turns.waiting.append(baton)
    try:
        if baton is not None:
            baton.acquire()  # released by the thread that hands its turn over to us
            DEVICE_TURN_WAITS.inc()  # once the turn is ours, so the finally below is right
        yield
    finally:
        with _guard:
            turns.users -= 1
            if turns.waiting:
                turns.waiting.popleft().release()  # the turn passes on; `free` stays
            else:
                turns.free += 1
            if not turns.users:
                del _devices[visitor_id]


def devices_in_gate() -> int:
    """Devices with a signup holding or waiting for a turn in this process (tests)."""
    with _guard:
        return len(_devices)
