"""One device's signups take turns in a process (risk/device_gate.py), with real threads."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client import REGISTRY

from accounts import services as account_services
from risk import device_gate as gate_module
from risk.device_gate import device_gate, devices_in_gate
from tests.conftest import one_device_events

PASSWORD = "correct-horse-battery-9"


def most_at_once(visitors: list[str], hold_s: float = 0.02) -> int:
    """Run one gated block per entry of `visitors` from as many threads; the most that were
    inside at the same time."""
    inside, peak, lock = 0, 0, threading.Lock()
    start = threading.Barrier(len(visitors))

    def enter(visitor):
        nonlocal inside, peak
        start.wait()
        with device_gate(visitor):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(hold_s)
            with lock:
                inside -= 1

    with ThreadPoolExecutor(max_workers=len(visitors)) as pool:
        list(pool.map(enter, visitors))
    return peak


def waiting_for(visitor: str) -> int:
    with gate_module._guard:
        turns = gate_module._devices.get(visitor)
        return len(turns.waiting) if turns else 0


def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.mark.parametrize(("slots", "expected"), [(1, 1), (2, 2), (0, 8)])
def test_one_device_gets_its_slots_and_no_more(settings, slots, expected):
    settings.SIGNUP_DEVICE_CONCURRENCY = slots
    assert most_at_once(["flood"] * 8) == expected
    assert devices_in_gate() == 0  # nothing left behind


def test_devices_never_wait_for_each_other(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    assert most_at_once([f"device-{i}" for i in range(8)]) == 8


def test_turns_go_first_come_first_served(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    entered, release = [], threading.Event()

    def hold():
        with device_gate("v"):
            entered.append("holder")
            release.wait(5)

    def wait_turn(name):
        with device_gate("v"):
            entered.append(name)

    waits_before = REGISTRY.get_sample_value("fpdjango_device_turn_waits_total")
    holder = threading.Thread(target=hold)
    holder.start()
    until(lambda: entered == ["holder"])
    waiters = []
    for number, name in enumerate("abcde", start=1):
        waiters.append(threading.Thread(target=wait_turn, args=(name,)))
        waiters[-1].start()
        until(lambda n=number: waiting_for("v") == n)  # queued in this order
    release.set()
    for thread in [holder, *waiters]:
        thread.join(5)
    assert entered == ["holder", "a", "b", "c", "d", "e"]
    assert devices_in_gate() == 0
    assert REGISTRY.get_sample_value("fpdjango_device_turn_waits_total") == waits_before + 5


def test_an_error_inside_passes_the_turn_on(settings):
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    holding, failed = threading.Event(), threading.Event()

    def fail():
        with pytest.raises(RuntimeError), device_gate("v"):
            holding.set()
            until(lambda: waiting_for("v") == 1)
            raise RuntimeError("the decision failed")
        failed.set()

    thread = threading.Thread(target=fail)
    thread.start()
    holding.wait(5)
    with device_gate("v"):  # queued behind the failing holder, then let in
        assert failed.wait(5)
    thread.join(5)
    assert devices_in_gate() == 0


def test_no_visitor_id_is_not_gated(settings):
    """An unverified signup (Fingerprint down, policy `review`) has no device to queue on."""
    settings.SIGNUP_DEVICE_CONCURRENCY = 1
    assert most_at_once([None] * 4) == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("slots", "most"), [(1, 1), (0, None)])
def test_a_flood_of_one_device_is_decided_one_at_a_time(
    live_server, sandbox, settings, monkeypatch, slots, most
):
    """Over HTTP, 12 simultaneous signups of one device: with the gate, one decision at a time
    in this process, every answer the same as without it (one account, the rest refused)."""
    settings.SIGNUP_DEVICE_CONCURRENCY = slots
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 1
    settings.RISK_DEVICE_LIMIT_STRICT = True
    _, events = one_device_events(sandbox, 12)
    deciding, peak, lock = 0, 0, threading.Lock()
    assess = account_services.risk_services.signup_assess

    def counted_assess(**kwargs):
        nonlocal deciding, peak
        with lock:
            deciding += 1
            peak = max(peak, deciding)
        try:
            time.sleep(0.02)  # widen the window in which two decisions could overlap
            return assess(**kwargs)
        finally:
            with lock:
                deciding -= 1

    monkeypatch.setattr(account_services.risk_services, "signup_assess", counted_assess)

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
    if most is None:
        assert peak > 1  # without the gate the decisions overlap: the test can tell
    else:
        assert peak == most
    assert devices_in_gate() == 0
