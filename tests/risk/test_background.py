"""risk/background.py: work handed to a Celery worker through a real Redis broker; without a
broker (or with it down) nothing is sent and the caller is told so."""

import logging

import pytest
import redis
from django.db import transaction

from fpdjango.celery import app as celery_app
from risk import background
from tests.support.redis_celery import celery_caches_reset

TASK = "risk.tasks.drn_lookup_task"


def queued(redis_url: str, queue: str) -> int:
    return redis.Redis.from_url(redis_url).llen(queue)


def test_without_a_broker_nothing_is_sent_and_the_caller_falls_back():
    assert background.tasks_run_inline()  # the test settings have no broker
    assert background.enqueue(TASK, 1) is False
    background.enqueue_after_commit(TASK, 1)  # and nothing is left waiting for a commit


def test_with_a_broker_the_task_is_sent_by_name(celery_broker, redis_url, redis_prefix):
    assert not background.tasks_run_inline()
    assert background.enqueue(TASK, 42, countdown=30) is True
    assert queued(redis_url, redis_prefix) == 1


@pytest.mark.django_db(transaction=True)
def test_after_commit_means_only_once_the_transaction_commits(
    celery_broker, redis_url, redis_prefix
):
    with transaction.atomic():
        background.enqueue_after_commit(TASK, 7)
        assert queued(redis_url, redis_prefix) == 0  # a worker must not see it before
    assert queued(redis_url, redis_prefix) == 1
    try:
        with transaction.atomic():
            background.enqueue_after_commit(TASK, 8)
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert queued(redis_url, redis_prefix) == 1  # a rolled-back write sends nothing


def test_a_broker_that_is_down_is_logged_and_reported(celery_broker, caplog):
    celery_app.conf.update(CELERY_BROKER_URL="redis://127.0.0.1:1/0")  # nothing listens
    celery_caches_reset()  # (the fixture puts its own URL back afterwards)
    with caplog.at_level(logging.WARNING, logger="risk.background"):
        assert background.enqueue(TASK, 1) is False
    assert f"could not enqueue {TASK}" in caplog.text
