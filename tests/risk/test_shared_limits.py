"""The DRN limiter and the Server API budget, shared through Redis by every process."""

import logging
import subprocess
import sys
import textwrap
import time

import pytest

from risk.fingerprint.rate_limit import ProcessRateLimiter
from risk.shared_limits import RedisRateLimiter, api_limiter
from tests.support.redis_celery import ROOT, subprocess_env

ACQUIRE = textwrap.dedent(
    """
    import django, sys, time
    django.setup()
    from risk.shared_limits import api_limiter
    lim = api_limiter("proof", float(sys.argv[1]))
    print(type(lim).__name__)
    time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # both start together
    for _ in range(int(sys.argv[2])):
        lim.acquire()
        print(time.time())
    """
)


def test_limiter_is_redis_backed_only_with_redis_url(settings, redis_settings):
    assert isinstance(api_limiter("x", 5), RedisRateLimiter)
    redis_settings.RISK_REDIS_URL = ""
    assert isinstance(api_limiter("x", 5), ProcessRateLimiter)


def test_rate_holds_across_processes(redis_url, redis_prefix):
    """Two processes, starting together, draw 20 slots each at 20/s: together they take
    about 2 s and no second holds more than 20 slots (each alone would take about 1 s)."""
    env = subprocess_env(redis_url=redis_url, prefix=redis_prefix)
    start_at = str(time.time() + 4)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ACQUIRE, "20", "20", start_at],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert [out[0] for out in outputs] == ["RedisRateLimiter", "RedisRateLimiter"]
    slots = sorted(float(t) for out in outputs for t in out[1:])
    assert len(slots) == 40
    assert slots[-1] - slots[0] >= 39 / 20 - 0.05
    busiest = max(sum(1 for t in slots if s <= t < s + 1.0) for s in slots)
    assert busiest <= 21


def test_reservations_are_shared_and_timeouts_reserve_nothing(redis_settings):
    a = RedisRateLimiter("t", 2)
    b = RedisRateLimiter("t", 2)  # another process's view of the same bucket
    assert a.acquire(timeout=0)
    assert not b.acquire(timeout=0.1)  # the next slot is 0.5 s away
    assert not b.acquire(timeout=0.1)  # and refusing reserved nothing
    started = time.monotonic()
    assert b.acquire(timeout=1.0)
    assert time.monotonic() - started > 0.3  # it waited for its slot (the next one after a's)


def test_redis_down_falls_back_to_the_process_limiter(settings, caplog):
    """Redis unreachable: the limit still holds, per process, and the log says so."""
    settings.RISK_REDIS_URL = "redis://127.0.0.1:1/0"
    lim = api_limiter("down", 2)
    assert isinstance(lim, RedisRateLimiter)
    with caplog.at_level(logging.WARNING, logger="risk.shared_limits"):
        assert lim.acquire(timeout=0)
        assert not lim.acquire(timeout=0)  # the next slot is 0.5 s away: not unlimited
    assert "holds per process" in caplog.text


@pytest.mark.django_db
def test_drn_client_uses_the_shared_limiter(redis_settings, sandbox):
    from risk.clients import drn_client

    assert isinstance(drn_client().limiter, RedisRateLimiter)


def test_backfill_budget_is_the_shared_limiter(redis_settings):

    assert isinstance(api_limiter("backfill", 2), RedisRateLimiter)


def test_rate_limiter_paces_threads_together():
    limiter = api_limiter("test-backfill-pace", 20)
    started = time.monotonic()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: limiter.acquire(), range(21)))
    assert time.monotonic() - started >= 20 / 20 * 0.95
