"""The client-side rate limiter under real threads: the configured rate holds."""

import threading
import time

import pytest

from risk.fingerprint.rate_limit import ProcessRateLimiter, process_limiter


def hammer(limiter: ProcessRateLimiter, *, threads: int, seconds: float) -> list[float]:
    """`threads` threads acquire as fast as they can for `seconds`; the grant times."""
    grants: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker():
        while time.monotonic() < stop_at:
            if limiter.acquire(timeout=0.5):
                now = time.monotonic()
                if now > stop_at:
                    break
                with lock:
                    grants.append(now)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sorted(grants)


def test_many_threads_hold_the_configured_rate():
    limiter = ProcessRateLimiter(25)
    grants = hammer(limiter, threads=16, seconds=1.5)
    rate = (len(grants) - 1) / (grants[-1] - grants[0])
    assert 25 * 0.85 <= rate <= 25 * 1.1, rate
    # No bursts: in any 1 s window about 25 grants (a few more when a busy scheduler wakes
    # threads late and their grants bunch up); 16 threads let through at once would be 41.
    for i, start in enumerate(grants):
        assert sum(1 for t in grants[i:] if t < start + 1.0) <= 25 + 5


def test_burst_is_served_at_once_then_the_rate():
    limiter = ProcessRateLimiter(10, burst=5)
    started = time.monotonic()
    for _ in range(5):
        assert limiter.acquire(timeout=0)
    assert time.monotonic() - started < 0.05
    assert not limiter.acquire(timeout=0)  # the bucket is empty
    assert limiter.acquire(timeout=0.2)  # next slot in 0.1 s


def test_acquire_gives_up_without_taking_a_slot():
    limiter = ProcessRateLimiter(2)
    assert limiter.acquire(timeout=0)
    started = time.monotonic()
    assert limiter.acquire(timeout=0.1) is False  # next slot is 0.5 s away
    assert time.monotonic() - started < 0.05  # refused at once, no sleeping
    # The refusal reserved nothing: the next slot is still ~0.5 s after the first.
    started = time.monotonic()
    assert limiter.acquire(timeout=1.0)
    assert 0.3 < time.monotonic() - started < 0.6


def test_set_rate_applies_to_later_acquisitions():
    limiter = ProcessRateLimiter(1)
    assert limiter.acquire(timeout=0)
    limiter.set_rate(50)
    assert limiter.acquire(timeout=0.1)


def test_shared_limiter_is_one_per_name_and_rate():
    a = process_limiter("test-shared", 7)
    assert process_limiter("test-shared", 7) is a
    assert process_limiter("test-shared", 8) is not a
    assert process_limiter("other", 7) is not a


@pytest.mark.parametrize("rps", [0, -1])
def test_rate_must_be_positive(rps):
    with pytest.raises(ValueError, match="positive"):
        ProcessRateLimiter(rps)
