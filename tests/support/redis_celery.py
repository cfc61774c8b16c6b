"""Real Redis (a dedicated database number, a key prefix per test run) and a real Celery
worker subprocess for the tests whose behaviour depends on them."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from fpdjango.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
# Database 9 is the tests'; every run writes under its own prefix, so runs never collide.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need Redis at {TEST_REDIS_URL} (bin/test starts it): {exc}")
    return TEST_REDIS_URL


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"fpdjango-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_settings(settings, redis_url, redis_prefix):
    """Settings as with REDIS_URL set: the Redis cache and the Redis-shared limiters."""
    settings.REDIS_URL = settings.RISK_REDIS_URL = redis_url
    settings.REDIS_KEY_PREFIX = settings.RISK_REDIS_KEY_PREFIX = redis_prefix
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": redis_prefix,
        }
    }
    return settings


def database_url() -> str:
    """The test database, as a URL a subprocess can use (it must see committed rows)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user, host, port = db["USER"] or "postgres", db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def subprocess_env(*, redis_url: str, prefix: str, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="fpdjango.test_settings",
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=prefix,
        CELERY_QUEUE=prefix,
        LOG_FORMAT="plain",
    )
    env.update(extra or {})
    return env


def celery_caches_reset() -> None:
    """Forget what the app derived from its config: queues, router, producer pool (eager
    tasks open one too, to the default broker) and broker connections."""
    celery_app.__dict__.pop("amqp", None)
    celery_app._pool = None  # (kombu's global registry keeps the pools; they are not closed)
    celery_app._backend_cache = None  # the result backend, rebuilt on next use
    celery_app._local.__dict__.pop("backend", None)


@pytest.fixture
def celery_broker(redis_settings, redis_url, redis_prefix):
    """This process sends tasks to Redis (queue named by the prefix) instead of running them."""
    # (Keys carry the CELERY_ namespace: the app reads its config from Django's settings.)
    keys = ("BROKER_URL", "RESULT_BACKEND", "TASK_ALWAYS_EAGER", "TASK_DEFAULT_QUEUE")
    saved = {f"CELERY_{key}": celery_app.conf.get(f"CELERY_{key}") for key in keys}
    redis_settings.CELERY_BROKER_URL = redis_url
    redis_settings.CELERY_TASK_ALWAYS_EAGER = False
    redis_settings.CELERY_TASK_DEFAULT_QUEUE = redis_prefix
    celery_app.conf.update(
        CELERY_BROKER_URL=redis_url,
        CELERY_RESULT_BACKEND=redis_url,
        CELERY_TASK_ALWAYS_EAGER=False,
        CELERY_TASK_DEFAULT_QUEUE=redis_prefix,
    )
    celery_caches_reset()
    yield redis_settings
    celery_app.conf.update(saved)
    celery_caches_reset()
    client = redis.Redis.from_url(redis_url)
    client.delete(redis_prefix)


@pytest.fixture
def celery_worker_factory(redis_url, redis_prefix, tmp_path):
    """Start real `celery -A fpdjango worker` subprocesses on the test queue and database."""
    workers: list[subprocess.Popen] = []

    def start(*, extra_env: dict | None = None, concurrency: int = 2) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(workers)}.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "fpdjango",
                "worker",
                "-Q",
                redis_prefix,
                "--pool",
                "threads",
                "--concurrency",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{redis_prefix}-{len(workers)}@%h",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=subprocess_env(redis_url=redis_url, prefix=redis_prefix, extra=extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def wait_until(predicate, *, timeout: float = 20.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def limiter_budget_start(limiter) -> int:
    """Empty the shared limiter's bucket and return Redis's clock (µs): the start of a count of
    the slots it hands out (see `limiter_slots_taken`)."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.delete(limiter.key)
    seconds, micros = client.time()
    return seconds * 1_000_000 + micros


def limiter_slots_taken(limiter, since_us: int) -> float:
    """How many slots of 1/rate the limiter has handed out at least since `since_us`. Its
    bucket is one "next free slot" time (risk/shared_limits.py) that each acquisition moves on
    by one interval from no earlier than the moment it was taken, whoever took it: a lower
    bound that holds however fast or slow the takers were."""
    value = redis.Redis.from_url(TEST_REDIS_URL).get(limiter.key)
    return 0.0 if value is None else (int(value) - since_us) * limiter.rate / 1_000_000
