"""Runtime thresholds (risk.thresholds): ThresholdSetting rows override the Django settings in
`risk_settings()`, every process reads them at most once a minute, and a failed read never
fails a request."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
from django.db import OperationalError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from risk import thresholds
from risk.conf import BY_NAME as SETTINGS_BY_NAME
from risk.conf import risk_settings
from risk.models import SignupAttempt, ThresholdSetting
from risk.services.thresholds import thresholds_apply
from risk.thresholds import (
    RELOAD_S,
    THRESHOLDS,
    thresholds_reload,
    thresholds_validate,
)
from tests.support.redis_celery import ROOT, database_url

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


class Clock:
    """The monotonic clock risk.thresholds reads, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(thresholds, "_clock", clock)
    thresholds.thresholds_assume({})
    return clock


def test_the_thresholds_are_the_settings_marked_so_in_the_settings_table():
    assert {s.name for s in THRESHOLDS} == {
        s.name for s in SETTINGS_BY_NAME.values() if s.threshold
    }
    assert "RISK_SUSPECT_SCORE_REVIEW" in thresholds.BY_NAME
    assert "FINGERPRINT_SECRET_API_KEY" not in thresholds.BY_NAME


def test_a_row_overrides_the_django_setting_which_stays_the_default(settings):
    settings.RISK_SUSPECT_SCORE_REVIEW = 15
    assert risk_settings().suspect_score_review == 15
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=20)
    ThresholdSetting.objects.create(name="RISK_DEVICE_LIMIT_STRICT", value=True)
    thresholds_reload()
    cfg = risk_settings()
    assert (cfg.suspect_score_review, cfg.device_limit_strict) == (20, True)
    assert cfg.max_accounts_per_device == 1  # the others are the Django settings
    settings.RISK_SUSPECT_SCORE_REVIEW = 12  # override_settings: rebuilt, overrides kept
    assert risk_settings().suspect_score_review == 20
    ThresholdSetting.objects.all().delete()
    thresholds_reload()
    assert risk_settings().suspect_score_review == 12
    assert risk_settings().device_limit_strict is False


def test_every_process_picks_a_change_up_within_a_minute(clock):
    assert risk_settings().suspect_score_review == 10  # read at 1000 s: no overrides
    # another process (the console's) writes a row; this one is not told
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=20)
    clock.now += RELOAD_S - 1
    assert risk_settings().suspect_score_review == 10  # read less than a minute ago
    clock.now += 1
    assert risk_settings().suspect_score_review == 20  # a minute old: read again


def test_the_table_is_read_at_most_once_a_minute(clock):
    def reads() -> int:
        with CaptureQueriesContext(connection) as captured:
            for _ in range(100):
                risk_settings()
        return sum("risk_thresholdsetting" in q["sql"] for q in captured.captured_queries)

    assert reads() == 0  # read (assumed) at 1000 s
    clock.now += RELOAD_S
    assert reads() == 1
    clock.now += RELOAD_S - 0.1
    assert reads() == 0
    clock.now += 0.1
    assert reads() == 1


def test_a_database_hiccup_keeps_the_last_values_and_is_logged(clock, monkeypatch, caplog):
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=20)
    thresholds_reload()

    def down():
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(thresholds, "overrides_read", down)
    clock.now += RELOAD_S
    with caplog.at_level(logging.WARNING, logger="risk.thresholds"):
        assert risk_settings().suspect_score_review == 20  # the last good value
    assert "runtime thresholds not read (OperationalError" in caplog.text
    caplog.clear()
    clock.now += 1
    assert risk_settings().suspect_score_review == 20
    assert not caplog.records  # next try in a minute, not at every call


def test_a_missing_table_fails_no_request_and_leaves_the_transaction_usable(clock, caplog):
    """The read runs in a savepoint: on PostgreSQL a failed statement would otherwise abort
    the caller's transaction (here the test's)."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE risk_thresholdsetting RENAME TO risk_thresholdsetting_gone")
    clock.now += RELOAD_S
    with caplog.at_level(logging.INFO, logger="risk.thresholds"):
        assert risk_settings().suspect_score_review == 10
    assert "runtime thresholds not read" in caplog.text
    assert caplog.records[0].levelno == logging.INFO  # not migrated yet: expected
    assert SignupAttempt.objects.count() == 0  # the transaction still works
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE risk_thresholdsetting_gone RENAME TO risk_thresholdsetting")


def test_rows_that_do_not_validate_are_ignored_and_logged(caplog):
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=-3)
    ThresholdSetting.objects.create(name="RISK_CHECK_IP", value=False)  # not a threshold
    ThresholdSetting.objects.create(name="RISK_MIN_CONFIDENCE", value=0.7)
    with caplog.at_level(logging.ERROR, logger="risk.thresholds"):
        assert thresholds_reload() == {"RISK_MIN_CONFIDENCE": 0.7}
    cfg = risk_settings()
    assert (cfg.suspect_score_review, cfg.check_ip, cfg.min_confidence) == (10, True, 0.7)
    assert "RISK_SUSPECT_SCORE_REVIEW=-3 ignored" in caplog.text
    assert "RISK_CHECK_IP=False ignored: not a rule threshold" in caplog.text


def test_overrides_the_django_settings_no_longer_fit_are_dropped(caplog):
    ThresholdSetting.objects.create(name="RISK_MAX_ACCOUNTS_PER_DEVICE", value=5)
    thresholds_reload()
    assert risk_settings().max_accounts_per_device == 5
    with override_settings(RISK_MAX_ACCOUNTS_PER_DEVICE_HARD=3), caplog.at_level(logging.ERROR):
        cfg = risk_settings()
        assert (cfg.max_accounts_per_device, cfg.max_accounts_per_device_hard) == (1, 3)
    assert "runtime thresholds ignored" in caplog.text


def test_validation_is_the_settings_tables():
    cfg = risk_settings()
    parsed, problems = thresholds_validate(
        {"RISK_SUSPECT_SCORE_REVIEW": "20", "RISK_DRN_PERCENTILE_REVIEW": "0.9"}, cfg=cfg
    )
    assert parsed == {"RISK_SUSPECT_SCORE_REVIEW": 20, "RISK_DRN_PERCENTILE_REVIEW": 0.9}
    assert problems == {}
    _, problems = thresholds_validate({"RISK_DRN_PERCENTILE_REVIEW": "2"}, cfg=cfg)
    assert problems == {"RISK_DRN_PERCENTILE_REVIEW": "must be a number between 0.01 and 1, got 2"}
    _, problems = thresholds_validate({"RISK_MAX_ACCOUNTS_PER_DEVICE_HARD": "0"}, cfg=cfg)
    assert problems == {"RISK_MAX_ACCOUNTS_PER_DEVICE_HARD": "must be a number >= 1, got 0"}
    _, problems = thresholds_validate({"RISK_MAX_ACCOUNTS_PER_DEVICE": 12}, cfg=cfg)
    assert (
        "would be below RISK_MAX_ACCOUNTS_PER_DEVICE (12)"
        in problems["RISK_MAX_ACCOUNTS_PER_DEVICE"]
    )


def signup_with_score(sandbox, username: str, score: int):
    event = sandbox.create_event(
        profile="human", ip="127.0.0.1", overrides={"suspect_score": score}
    )
    return APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": username, "password": PASSWORD},
        format="json",
    )


def test_a_real_signup_is_decided_with_the_values_applied(
    sandbox, django_user_model, django_capture_on_commit_callbacks
):
    admin = django_user_model.objects.create_superuser("boss", password=PASSWORD)
    held = signup_with_score(sandbox, "scored12a", 12)
    assert held.json()["status"] == "pending_review"
    assert SignupAttempt.objects.get().reasons == ["suspect_score"]

    with django_capture_on_commit_callbacks(execute=True):  # the process reloads on commit
        thresholds_apply(actor=admin, values={"RISK_SUSPECT_SCORE_REVIEW": 20}, note="test")

    allowed = signup_with_score(sandbox, "scored12b", 12)
    assert allowed.status_code == 201 and allowed.json()["status"] == "created"
    attempt = SignupAttempt.objects.get(reference=allowed.json()["reference"])
    assert attempt.decision == "allow" and attempt.reasons == []


@pytest.mark.django_db(transaction=True)
def test_another_process_reads_the_applied_values(django_user_model):
    admin = django_user_model.objects.create_superuser("boss", password=PASSWORD)
    thresholds_apply(actor=admin, values={"RISK_SUSPECT_SCORE_REVIEW": 33})
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fpdjango.test_settings",
        "DATABASE_URL": database_url(),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from risk.conf import risk_settings; "
            "print(risk_settings().suspect_score_review)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "33"


def test_settings_read_during_the_tables_own_read_do_not_wait_for_it(clock, monkeypatch):
    """Something the read itself runs (a query hook, a log handler) may ask for the settings:
    it gets the values read last instead of waiting for the read it is part of."""
    ThresholdSetting.objects.create(name="RISK_SUSPECT_SCORE_REVIEW", value=20)
    seen = []

    def hook(execute, sql, params, many, context):
        seen.append(risk_settings().suspect_score_review)
        return execute(sql, params, many, context)

    monkeypatch.setattr(thresholds, "_loaded", thresholds._Loaded({}, None))  # a new process
    with connection.execute_wrapper(hook):
        assert risk_settings().suspect_score_review == 20
    assert seen and set(seen) == {10}
