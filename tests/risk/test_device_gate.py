"""One device's signups take turns in a process (risk/device_gate.py), with real threads."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client import REGISTRY

from risk import device_gate as gate_module
from risk.device_gate import device_gate, devices_in_gate
from risk.services import signup as signup_service
from tests.conftest import one_device_events

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def empty_gate():
    """Every test starts and ends with no device in the gate: nothing leaks, nothing waits on
    a thread another test left behind."""
    assert devices_in_gate() == 0
    yield
    assert devices_in_gate() == 0


def waits(outcome: str) -> float:
    return REGISTRY.get_sample_value("fpdjango_device_turn_waits_total", {"outcome": outcome}) or 0


def most_at_once(visitors: list, together: int) -> int:
    """One gated block per entry of `visitors`, each from its own thread; inside, threads wait
    for each other in groups of `together` (a barrier that fails if they cannot all be inside
    at once). Returns the most that were inside at the same time."""
    inside, peak, lock = 0, 0, threading.Lock()
    start, group = threading.Barrier(len(visitors)), threading.Barrier(together, timeout=5)

    def enter(visitor):
        nonlocal inside, peak
        start.wait(timeout=5)
        with device_gate(visitor):
            with lock:
                inside += 1
                peak = max(peak, inside)
            group.wait()
            with lock:
                inside -= 1

    with ThreadPoolExecutor(max_workers=len(visitors)) as pool:
        for outcome in [pool.submit(enter, visitor) for visitor in visitors]:
            outcome.result(timeout=30)  # a broken barrier fails the test here
    return peak


def start_thread(target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def joined(*threads: threading.Thread) -> bool:
    for thread in threads:
        thread.join(5)
    return not any(thread.is_alive() for thread in threads)


def queued(visitor: str) -> int:
    with gate_module._guard:
        turns = gate_module._devices.get(visitor)
        return len(turns.waiting) if turns else 0


def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.mark.parametrize("slots", [1, 2, 4])
def test_one_device_gets_its_turns_and_no_more(settings, slots):
    settings.SIGNUP_DEVICE_CONCURRENCY = slots
    assert most_at_once(["flood"] * 8, together=slots) == slots


def test_zero_turns_is_no_gate(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 0
    assert most_at_once(["flood"] * 8, together=8) == 8


def test_devices_never_wait_for_each_other(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    assert most_at_once([f"device-{i}" for i in range(8)], together=8) == 8


def test_no_visitor_id_is_not_gated(settings):
    """An unverified signup (Fingerprint down, policy `review`) has no device to queue on."""
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    assert most_at_once([None] * 4, together=4) == 4


def test_turns_go_first_come_first_served(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    entered, release = [], threading.Event()
    waited = waits("turn")

    def hold():
        with device_gate("fifo"):
            entered.append("holder")
            release.wait(5)

    def wait_turn(name):
        with device_gate("fifo"):
            entered.append(name)

    threads = [start_thread(hold)]
    until(lambda: entered == ["holder"])
    for number, name in enumerate("abcde", start=1):
        threads.append(start_thread(wait_turn, name))
        until(lambda n=number: queued("fifo") == n)  # queued in this order
    release.set()
    assert joined(*threads)
    assert entered == ["holder", "a", "b", "c", "d", "e"]
    assert waits("turn") == waited + 5


def test_an_error_inside_passes_the_turn_on(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    holding, errors, after = threading.Event(), [], threading.Event()

    def fail():
        try:
            with device_gate("error"):
                holding.set()
                until(lambda: queued("error") == 1)
                raise RuntimeError("the decision failed")
        except RuntimeError as exc:
            errors.append(exc)

    def next_in_line():
        assert holding.wait(5)
        with device_gate("error"):
            after.set()

    threads = [start_thread(fail), start_thread(next_in_line)]
    assert joined(*threads)
    assert len(errors) == 1 and after.is_set()


def test_a_wait_ends_after_max_wait_and_no_turn_is_lost(settings, monkeypatch):
    """A holder stuck past MAX_WAIT_S: its follower goes ahead without the turn (counted as
    timed out) and, leaving, gives back no turn it never had: while the holder is still
    stuck, the next signup queues again; once the holder is done, it gets the turn."""
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    monkeypatch.setattr(gate_module, "MAX_WAIT_S", 0.2)
    holding, release = threading.Event(), threading.Event()
    went_ahead, last_in = threading.Event(), threading.Event()
    timed_out = waits("timed_out")

    def stuck():
        with device_gate("stuck"):
            holding.set()
            release.wait(5)

    def enter(flag):
        with device_gate("stuck"):
            flag.set()

    holder = start_thread(stuck)
    assert holding.wait(5)
    started = time.monotonic()
    assert joined(start_thread(enter, went_ahead))
    assert went_ahead.is_set() and time.monotonic() - started >= 0.2
    assert waits("timed_out") == timed_out + 1
    monkeypatch.setattr(gate_module, "MAX_WAIT_S", 5.0)
    last = start_thread(enter, last_in)
    until(lambda: queued("stuck") == 1 or last_in.is_set())
    assert not last_in.is_set()  # one turn, and the stuck holder still has it
    release.set()
    assert joined(holder, last) and last_in.is_set()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slots", [1, 0])
def test_a_flood_of_one_device_is_decided_one_at_a_time(
    live_server, sandbox, settings, monkeypatch, slots
):
    """Over HTTP, 12 simultaneous signups of one device: with the gate, one decision at a time
    in this process and the others queued for their turn; without it, decisions overlap. The
    answers are the same either way: one account, the rest refused."""
    settings.SIGNUP_DEVICE_CONCURRENCY = slots
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 1
    settings.RISK_DEVICE_LIMIT_STRICT = True
    _, events = one_device_events(sandbox, 12)
    deciding, peak, lock, overlapped = 0, 0, threading.Lock(), threading.Event()
    assess = signup_service._attempt_recorded
    waited = waits("turn")

    def counted_assess(**kwargs):
        nonlocal deciding, peak
        with lock:
            deciding += 1
            peak = max(peak, deciding)
            if deciding > 1:
                overlapped.set()
        try:
            if slots:
                time.sleep(0.02)  # others arrive meanwhile, and must queue
            else:
                overlapped.wait(5)  # without the gate a second decision comes in
            return assess(**kwargs)
        finally:
            with lock:
                deciding -= 1

    monkeypatch.setattr(signup_service, "_attempt_recorded", counted_assess)

    def signup(index):
        response = requests.post(
            f"{live_server.url}/api/signup",
            json={"event_id": events[index], "username": f"user{index}", "password": PASSWORD},
            timeout=60,
        )
        return response.status_code, response.json().get("code")

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(signup, range(12)))
    assert sorted(statuses) == [(201, None)] + [(403, "signup_denied")] * 11
    if slots:
        assert peak == 1
        assert waits("turn") > waited  # signups really queued for their turn
    else:
        assert overlapped.is_set() and peak > 1
