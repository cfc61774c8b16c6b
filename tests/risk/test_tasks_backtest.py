"""A backtest started from the console runs in real Celery workers, chunk by chunk, and its
result is the one-pass result."""

import pytest

from risk.services import backtest
from risk.services.backtest import backtest_get, backtest_run, backtest_start
from tests.support.backtest import known_history, stored_attempt
from tests.support.redis_celery import wait_until

RAISED = {"RISK_SUSPECT_SCORE_REVIEW": 20}


@pytest.mark.django_db(transaction=True)
def test_workers_score_the_chunks_and_the_last_one_merges_them(
    celery_broker, celery_worker_factory, monkeypatch
):
    known_history()
    for _ in range(7):
        stored_attempt(score=12, review_status="approved")
    monkeypatch.setattr(backtest, "CHUNK", 3)  # 6 chunks of the 17 attempts' ids
    celery_worker_factory(concurrency=2)

    run_id = backtest_start(actor=None, window_days=30, values=RAISED)
    run = backtest_get(run_id=run_id)
    assert run.status == "running" and run.total == 17  # handed to the workers

    run = wait_until(
        lambda: (found := backtest_get(run_id=run_id)).status != "running" and found,
        timeout=60,
    )
    assert run.status == "done", run.error
    assert run.done == 17
    one_pass = backtest_run(window_days=30, values=RAISED, now=run.report.until)
    assert run.report.to_state() == one_pass.to_state()
    assert dict(run.report.moves) == {"review->allow": 11}
