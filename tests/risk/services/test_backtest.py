"""Backtests (risk.services.backtest) on stored histories whose answers are known, and on
signups made through the real API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from risk.models import BackfillCheckpoint, SignupAttempt, ThresholdSetting
from risk.services import backtest
from risk.services.backtest import backtest_get, backtest_run, backtest_start
from risk.services.thresholds import ThresholdError, thresholds_apply
from tests.support.backtest import known_history, stored_attempt
from tests.support.review import signup

pytestmark = pytest.mark.django_db
RAISED = {"RISK_SUSPECT_SCORE_REVIEW": 20}


def test_raising_the_suspect_score_threshold_moves_exactly_the_12s_to_allow():
    history = known_history()
    report = backtest_run(window_days=30, values=RAISED)

    assert report.changed == {"RISK_SUSPECT_SCORE_REVIEW": (10, 20)}
    assert report.tally["scored"] == 9
    assert report.tally["skipped"] == 1  # the purged snapshot; the 40-day-old one is outside
    assert report.tally["drift"] == 0  # the thresholds in force give the recorded decisions
    assert dict(report.outcomes["now"]) == {"allow": 3, "review": 5, "deny": 1}
    assert dict(report.outcomes["proposed"]) == {"allow": 7, "review": 1, "deny": 1}
    assert dict(report.moves) == {"review->allow": 4}
    assert dict(report.moves_labelled["review->allow"]) == {
        "person": 2,
        "fraud": 1,
        "unlabelled": 1,
    }
    assert dict(report.reasons_removed) == {"suspect_score": 4}
    moved = {a.pk for key in ("approved12", "rejected12", "unlabelled12") for a in history[key]}
    assert {item["attempt"] for item in report.sample()} == moved
    assert {item["move"] for item in report.sample()} == {"review->allow"}


def test_reviewers_labels_give_exact_people_and_fraud_counts():
    known_history()
    report = backtest_run(window_days=30, values=RAISED)

    assert dict(report.labels) == {"person": 3, "fraud": 2}
    # now: the two approved 12s and the approved 25 held; the rejected 12 held, the blocked
    # device's attempt denied
    assert (report.people_denied("now"), report.people_held("now")) == (0, 3)
    assert (report.fraud_allowed("now"), report.fraud_held("now")) == (0, 1)
    # proposed: the approved 12s allowed, the 25 still held; the rejected 12 gets through
    assert (report.people_denied("proposed"), report.people_held("proposed")) == (0, 1)
    assert (report.fraud_allowed("proposed"), report.fraud_held("proposed")) == (1, 0)


def test_a_strict_device_limit_would_deny_the_households_reviewers_approved():
    households = [stored_attempt(device_accounts=1, review_status="approved") for _ in range(3)]
    assert {a.decision for a in households} == {"review"}  # device_shared
    report = backtest_run(window_days=7, values={"RISK_DEVICE_LIMIT_STRICT": True})
    assert dict(report.moves) == {"review->deny": 3}
    assert report.people_denied("now") == 0
    assert report.people_denied("proposed") == 3
    assert report.sample()[0]["proposed"] == ["device_limit"]


def test_the_window_ends_at_now_and_counts_only_its_attempts():
    stored_attempt(score=12, created_at=timezone.now() - timedelta(days=8))
    stored_attempt(score=12, created_at=timezone.now() - timedelta(days=2))
    assert backtest_run(window_days=7, values=RAISED).tally["scored"] == 1
    assert backtest_run(window_days=30, values=RAISED).tally["scored"] == 2
    earlier = timezone.now() - timedelta(days=5)
    assert backtest_run(window_days=7, values=RAISED, now=earlier).tally["scored"] == 1


def test_explicit_current_values_replace_the_ones_in_force():
    """A bench compares two explicit sets: with 25 as "now" and 20 proposed, nothing moves
    (the 12s are allowed either way; the 25s held either way)."""
    known_history()
    report = backtest_run(window_days=30, values=RAISED, current={"RISK_SUSPECT_SCORE_REVIEW": 25})
    assert report.current["RISK_SUSPECT_SCORE_REVIEW"] == 25
    assert dict(report.outcomes["now"]) == {"allow": 7, "deny": 1, "review": 1}
    assert report.tally["drift"] == 4  # recorded held, today's "now" allows them
    assert not report.moves


@pytest.mark.parametrize(
    ("values", "blamed"),
    [
        ({"RISK_SUSPECT_SCORE_REVIEW": "ten"}, "RISK_SUSPECT_SCORE_REVIEW"),
        ({"RISK_SUSPECT_SCORE_REVIEW": -1}, "RISK_SUSPECT_SCORE_REVIEW"),
        ({"RISK_MIN_CONFIDENCE": 1.5}, "RISK_MIN_CONFIDENCE"),
        ({"RISK_DEVICE_LIMIT_STRICT": "maybe"}, "RISK_DEVICE_LIMIT_STRICT"),
        ({"RISK_CHECK_IP": False}, "RISK_CHECK_IP"),  # a setting, but not a threshold
        ({"RISK_MAX_ACCOUNTS_PER_DEVICE_HARD": 0}, "RISK_MAX_ACCOUNTS_PER_DEVICE_HARD"),
        # the soft limit above the hard one in force (10): as `manage.py check` says (E007)
        ({"RISK_MAX_ACCOUNTS_PER_DEVICE": 11}, "RISK_MAX_ACCOUNTS_PER_DEVICE"),
    ],
)
def test_values_that_are_not_valid_thresholds_are_refused(values, blamed):
    with pytest.raises(ThresholdError) as refused:
        backtest_run(window_days=30, values=values)
    assert refused.value.code == "invalid"
    assert set(refused.value.problems) == {blamed}


def test_a_window_that_is_not_a_number_of_days_is_refused():
    with pytest.raises(ThresholdError):
        backtest_run(window_days=0, values=RAISED)


def test_the_backtest_of_api_signups_reproduces_their_decisions(sandbox):
    """Signups decided by the live rules through the API: the backtest with nothing changed
    gives every one of them the decision it got, and the raised threshold moves the Tor
    signup's suspect_score hold only if that was its one reason."""
    for profile in ("human", "human", "tor", "bad_bot", "vpn", "incognito"):
        signup(sandbox, profile)
    signup(sandbox, "human", visitor_id=SignupAttempt.objects.first().visitor_id)  # household
    recorded = {}
    for attempt in SignupAttempt.objects.all():
        recorded[attempt.decision] = recorded.get(attempt.decision, 0) + 1

    same = backtest_run(window_days=7, values={})
    assert same.tally["scored"] == 7 and same.tally["drift"] == 0
    assert dict(same.outcomes["now"]) == recorded == dict(same.outcomes["proposed"])
    assert not same.moves and not same.changed


def test_a_console_run_in_chunks_gives_the_same_report_as_one_pass(monkeypatch):
    """No broker here: the chunks run inline, each saving its progress in a checkpoint, and
    the last one merges them; the figures and the sample equal the one-pass run's."""
    known_history()
    for _ in range(6):
        stored_attempt(score=12, review_status="rejected")
    monkeypatch.setattr(backtest, "CHUNK", 4)
    monkeypatch.setattr(backtest, "BATCH", 2)
    run_id = backtest_start(actor=None, window_days=30, values=RAISED)
    run = backtest_get(run_id=run_id)
    one_pass = backtest_run(window_days=30, values=RAISED, now=run.report.until)

    assert run.status == "done" and run.done == run.total == 16
    merged = run.report.to_state()
    expected = one_pass.to_state()
    assert merged == expected
    assert len(run.report.samples["review->allow"]) == backtest.SAMPLE_PER_MOVE
    # the chunks' rows are gone; the run's row holds the result for the page
    assert list(BackfillCheckpoint.objects.values_list("name", flat=True)) == [f"backtest:{run_id}"]


def test_an_interrupted_chunk_resumes_from_its_checkpoint(monkeypatch, crash_after_batches):
    known_history()
    monkeypatch.setattr(backtest, "BATCH", 3)
    crash_after_batches(1)
    with pytest.raises(KeyboardInterrupt):
        backtest_start(actor=None, window_days=30, values=RAISED)
    run_id = BackfillCheckpoint.objects.get(name__startswith="backtest:").name.split(":")[1]
    run = backtest_get(run_id=run_id)
    assert run.status == "running" and run.done == 3  # one batch committed

    from risk.services.jobs import batch_committed

    batch_committed.disconnect(dispatch_uid="crash_after_batches")
    backtest.backtest_chunk_run(run_id=run_id, chunk=0)
    run = backtest_get(run_id=run_id)
    assert run.status == "done"
    assert run.report.tally["scored"] == 9 and dict(run.report.moves) == {"review->allow": 4}
    backtest.backtest_chunk_run(run_id=run_id, chunk=0)  # delivered again: nothing happens
    assert backtest_get(run_id=run_id).report.tally["scored"] == 9


def test_an_empty_window_is_done_at_once():
    run_id = backtest_start(actor=None, window_days=7, values=RAISED)
    run = backtest_get(run_id=run_id)
    assert (run.status, run.total, run.report.tally["scored"]) == ("done", 0, 0)


def test_only_the_latest_runs_are_kept(monkeypatch):
    monkeypatch.setattr(backtest, "KEEP_RUNS", 3)
    runs = [backtest_start(actor=None, window_days=7, values=RAISED) for _ in range(5)]
    kept = [run.run_id for run in backtest.backtests_recent()]
    assert kept == runs[::-1][:3]
    assert backtest_get(run_id=runs[0]) is None


def test_applying_a_run_records_its_summary_and_puts_its_values_in_force(django_user_model):
    boss = django_user_model.objects.create_superuser("boss", password="x-Pass-word-9")
    known_history()
    run_id = backtest_start(actor=boss, window_days=30, values=RAISED)
    change = backtest.backtest_apply(actor=boss, run_id=run_id, note="holds too many")

    assert change.values == {"RISK_SUSPECT_SCORE_REVIEW": 20}
    assert change.previous == {"RISK_SUSPECT_SCORE_REVIEW": None}
    summary = change.backtest
    assert summary["run"] == run_id and summary["window_days"] == 30
    assert summary["moves"] == {"review->allow": 4}
    assert summary["labelled"]["proposed"]["fraud"] == {"allow": 1, "deny": 1}
    assert "samples" not in summary  # attempts are people's data; the audit outlives them
    assert ThresholdSetting.objects.get().value == 20

    # back to the Django setting: the override is removed rather than pinned at 10
    again = backtest_start(actor=boss, window_days=30, values={"RISK_SUSPECT_SCORE_REVIEW": 10})
    change = backtest.backtest_apply(actor=boss, run_id=again)
    assert change.values == {"RISK_SUSPECT_SCORE_REVIEW": None}
    assert not ThresholdSetting.objects.exists()


def test_a_run_judged_against_thresholds_changed_since_is_not_applied(django_user_model):
    boss = django_user_model.objects.create_superuser("boss", password="x-Pass-word-9")
    run_id = backtest_start(actor=boss, window_days=30, values=RAISED)
    thresholds_apply(actor=boss, values={"RISK_MIN_CONFIDENCE": 0.6})  # meanwhile
    with pytest.raises(ThresholdError) as refused:
        backtest.backtest_apply(actor=boss, run_id=run_id)
    assert refused.value.code == "changed"
    assert list(ThresholdSetting.objects.values_list("name", flat=True)) == ["RISK_MIN_CONFIDENCE"]


def test_a_run_not_finished_or_proposing_nothing_is_not_applied(
    monkeypatch, django_user_model, django_capture_on_commit_callbacks
):
    boss = django_user_model.objects.create_superuser("boss", password="x-Pass-word-9")
    same = backtest_start(actor=boss, window_days=7, values={})
    with pytest.raises(ThresholdError) as refused:
        backtest.backtest_apply(actor=boss, run_id=same)
    assert refused.value.code == "no_change"
    stored_attempt(score=12)
    monkeypatch.setattr(backtest.background, "tasks_run_inline", lambda: False)  # a worker's
    monkeypatch.setattr(backtest.background, "enqueue", lambda *args: True)
    with django_capture_on_commit_callbacks(execute=True):
        running = backtest_start(actor=boss, window_days=7, values=RAISED)
    with pytest.raises(ThresholdError) as refused:
        backtest.backtest_apply(actor=boss, run_id=running)
    assert refused.value.code == "not_done"


def test_reading_the_window_costs_the_same_queries_for_more_attempts(monkeypatch):
    """One query per batch of attempts, whatever the window holds: a column the rules start
    to read that the backtest does not load would cost a query per attempt, and fail this."""
    monkeypatch.setattr(backtest, "BATCH", 1000)
    known_history()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            backtest_run(window_days=30, values=RAISED)
        return len(captured.captured_queries)

    few = queries()
    for _ in range(15):
        stored_attempt(score=12, review_status="approved")
    assert queries() == few


def test_a_broker_that_refuses_the_chunks_leaves_them_to_the_request(
    monkeypatch, django_capture_on_commit_callbacks
):
    """Workers are sent the chunks once the run's rows are committed; a chunk the broker
    refuses is scored in the request instead of waiting for a worker that never gets it."""
    known_history()
    monkeypatch.setattr(backtest, "CHUNK", 4)
    monkeypatch.setattr(backtest.background, "tasks_run_inline", lambda: False)
    sent = []

    def enqueue(task, *args):
        sent.append(args)
        return len(sent) % 2 == 1  # every other one refused

    monkeypatch.setattr(backtest.background, "enqueue", enqueue)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_id = backtest_start(actor=None, window_days=30, values=RAISED)
    assert not sent  # nothing before the commit
    for callback in callbacks:
        callback()
    assert [chunk for _, chunk in sent] == [0, 1, 2]
    run = backtest_get(run_id=run_id)
    assert run.status == "running" and run.done == 4  # chunk 1 scored here; 0 and 2 sent
    for chunk in (0, 2):  # the workers
        backtest.backtest_chunk_run(run_id=run_id, chunk=chunk)
    assert backtest_get(run_id=run_id).report.tally["scored"] == 9
