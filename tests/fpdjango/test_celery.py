"""fpdjango/celery.py: the Celery app takes its configuration from Django's settings, finds
risk's tasks, and a worker refuses to start in production as the web process does."""

import subprocess
import sys
import time

import pytest

from fpdjango.celery import app as celery_app
from tests.support import ROOT
from tests.support.production import production_env


def test_its_configuration_is_djangos_celery_settings(settings):
    conf = celery_app.conf
    # Without a broker (the test settings have none) every task runs in the caller.
    assert not settings.CELERY_BROKER_URL and conf.task_always_eager is True
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options == settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert conf.task_default_queue == settings.CELERY_TASK_DEFAULT_QUEUE


def test_every_beat_entry_names_a_task_the_app_found(settings):
    celery_app.loader.import_default_modules()  # what a worker does at start
    schedule = celery_app.conf.beat_schedule
    assert schedule == settings.CELERY_BEAT_SCHEDULE
    assert {"verify-unverified-signups", "purge-expired-snapshots"} <= set(schedule)
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks, entry["task"]


@pytest.mark.parametrize(
    ("env", "check_id"),
    [
        ({"DJANGO_SECRET_KEY": "changeme"}, "risk.E013"),
        ({"FINGERPRINT_SECRET_API_KEY": ""}, "risk.E001"),
    ],
)
def test_a_worker_refuses_an_unsafe_production_configuration(env, check_id, tmp_path):
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "fpdjango", "worker", "--pool", "solo"],
            cwd=ROOT,
            env=production_env(
                DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                CELERY_BROKER_URL="memory://",
                CELERY_RESULT_BACKEND="cache+memory://",
                **env,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        # It either exits, or prints its banner and serves: then it did not refuse.
        while worker.poll() is None and "[queues]" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = log.read_text()
    assert "refusing to start in production" in output and check_id in output
    assert "[queues]" not in output, "the worker started serving"
    assert worker.returncode not in (0, -9)
