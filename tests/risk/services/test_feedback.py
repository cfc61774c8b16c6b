"""risk.services.feedback: reviewers' decisions tell Fingerprint which events are suspect.
Real signups and real HTTP to the sandbox (which keeps every flag it was told, in order);
the sends from this process (`send_suspect_feedback`, the task run eagerly), and from a real
Celery worker against Redis."""

import itertools
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from fpdjango.celery import app as celery_app
from risk import tasks
from risk.models import FingerprintEvent, SuspectReport, SuspectReportLog
from risk.services import feedback
from tests.conftest import SANDBOX_KEY
from tests.support.feedback import decide, event_of, report_of, send_owed
from tests.support.redis_celery import wait_until
from tests.support.review import PASSWORD, make_reviewer, signup

TOKEN = "scrape-token-for-feedback"


@pytest.fixture
def reviewer(db):
    return make_reviewer("rita")


@pytest.fixture
def eager_retries(monkeypatch):
    """Eager retries run in place (as a worker would run them later) instead of raising."""
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_EAGER_PROPAGATES", False)


def told(sandbox, attempt) -> list[bool]:
    """What the sandbox was told about the attempt's event, in order."""
    return [row["suspect"] for row in sandbox.feedback(event_of(attempt))]


def outcomes(attempt) -> list[str]:
    rows = SuspectReportLog.objects.filter(event_id=event_of(attempt)).order_by("pk")
    return [row.outcome for row in rows]


def counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("fpdjango_suspect_feedback_total", {"outcome": outcome}) or 0


def patches(sandbox) -> int:
    return sandbox.stats()["requests"].get("v4_patch_event", 0)


def one_device(sandbox, count: int, settings) -> list:
    """`count` attempts from one device: the first allowed, the others held."""
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 1
    _, first = signup(sandbox, "human")
    return [first] + [signup(sandbox, visitor_id=first.visitor_id)[1] for _ in range(count - 1)]


# --- from this process: what is sent, and when nothing is --------------------------------


@pytest.mark.django_db
def test_a_rejection_tells_fingerprint_the_event_is_suspect(sandbox, reviewer):
    _, attempt = signup(sandbox, "tor")
    sent_before = counted("sent")
    decision = decide(reviewer, "reject", attempt=attempt)

    report = report_of(attempt)
    assert (report.wanted, report.reported, report.status) == (True, None, "due")
    assert report.decision == decision
    assert told(sandbox, attempt) == []  # nothing is sent from the reviewer's request

    assert send_owed() == {"sent": 1}
    assert told(sandbox, attempt) == [True]
    assert sandbox.event_meta(event_of(attempt))["suspect"] is True
    report.refresh_from_db()
    assert (report.reported, report.status, report.claimed_until) == (True, "sent", None)
    log = SuspectReportLog.objects.get(event_id=event_of(attempt))
    assert (log.suspect, log.outcome, log.http_status, log.decision) == (
        True,
        "sent",
        200,
        decision,
    )
    assert counted("sent") == sent_before + 1
    assert send_owed() == {}  # nothing left owed


@pytest.mark.django_db
def test_a_device_block_reports_every_event_of_the_devices_attempts(sandbox, reviewer, settings):
    attempts = one_device(sandbox, 3, settings)
    assert [a.review_status for a in attempts] == ["", "pending", "pending"]
    block = decide(reviewer, "block_device", device=attempts[0].device)

    reports = SuspectReport.objects.filter(event__in=[a.fingerprint_event for a in attempts])
    assert reports.count() == 3 and {r.decision for r in reports} == {block}
    assert send_owed() == {"sent": 3}
    for attempt in attempts:  # the allowed one, and the two the cascade rejected
        assert told(sandbox, attempt) == [True]
        assert sandbox.event_meta(event_of(attempt))["suspect"] is True


@pytest.mark.django_db
def test_an_unblock_takes_back_what_the_block_reported_and_an_approval_adds_nothing(
    sandbox, reviewer, settings
):
    first, held = one_device(sandbox, 2, settings)
    decide(reviewer, "block_device", device=first.device)
    send_owed()
    assert told(sandbox, first) == told(sandbox, held) == [True]

    decide(reviewer, "unblock_device", device=first.device)  # the held one is pending again
    assert send_owed() == {"sent": 2}
    assert told(sandbox, first) == told(sandbox, held) == [True, False]
    assert sandbox.event_meta(event_of(held))["suspect"] is False

    decide(reviewer, "approve", attempt=held)  # Fingerprint already has `false`
    assert send_owed() == {}
    assert told(sandbox, held) == [True, False]
    assert report_of(held).status == "sent"


@pytest.mark.django_db
def test_an_event_rejected_on_its_own_stays_suspect_after_an_unblock(sandbox, reviewer, settings):
    first, held = one_device(sandbox, 2, settings)
    decide(reviewer, "reject", attempt=held)  # the reviewer's own rejection, before the block
    decide(reviewer, "block_device", device=first.device)
    decide(reviewer, "unblock_device", device=first.device)
    assert send_owed() == {"sent": 1}  # the first event's true and false cancelled out
    assert told(sandbox, held) == [True]
    assert told(sandbox, first) == []
    assert report_of(first).status == "not_needed"


@pytest.mark.django_db
def test_trusting_a_blocked_device_takes_back_what_the_block_reported(sandbox, reviewer, settings):
    first, held = one_device(sandbox, 2, settings)
    decide(reviewer, "block_device", device=first.device)
    send_owed()
    decide(reviewer, "trust_device", device=first.device)
    send_owed()
    assert told(sandbox, first) == [True, False]
    assert told(sandbox, held) == [True]  # the block rejected it, and trusting does not undo that


@pytest.mark.django_db
def test_approving_an_event_never_reported_sends_nothing(sandbox, reviewer):
    _, approved = signup(sandbox, "tor")
    _, rejected = signup(sandbox, "tor")
    before = patches(sandbox)
    decide(reviewer, "approve", attempt=approved)
    decide(reviewer, "reject", attempt=rejected)
    assert send_owed() == {"sent": 1}  # the rejection only
    assert not SuspectReport.objects.filter(event=approved.fingerprint_event).exists()
    assert told(sandbox, approved) == [] and told(sandbox, rejected) == [True]
    assert patches(sandbox) == before + 1


@pytest.mark.django_db
def test_the_latest_wish_wins_and_changes_of_mind_go_out_in_order(sandbox, reviewer, settings):
    first, _ = one_device(sandbox, 2, settings)
    device = first.device
    # Three wishes before any send: one request, the last wish.
    decide(reviewer, "block_device", device=device)
    decide(reviewer, "unblock_device", device=device)
    decide(reviewer, "block_device", device=device)
    assert report_of(first).wish == 3
    send_owed()
    assert told(sandbox, first) == [True]
    # Sent one by one: each change of mind goes out, in order.
    decide(reviewer, "unblock_device", device=device)
    send_owed()
    decide(reviewer, "block_device", device=device)
    send_owed()
    assert told(sandbox, first) == [True, False, True]
    assert sandbox.event_meta(event_of(first))["suspect"] is True


@pytest.mark.django_db
def test_a_wish_that_arrives_while_the_request_is_on_the_way_is_sent_after_it(
    sandbox, reviewer, settings, monkeypatch
):
    first, _ = one_device(sandbox, 2, settings)
    decide(reviewer, "block_device", device=first.device)
    report = report_of(first)
    real_client = feedback.fingerprint_feedback_client

    class ChangeOfMindMidway:
        """The reviewer unblocks while the `true` request is on the way."""

        def update_event(self, event_id, **kwargs):
            real_client().update_event(event_id, **kwargs)
            if kwargs["suspect"] and event_id == event_of(first):
                decide(reviewer, "unblock_device", device=first.device)

    monkeypatch.setattr(feedback, "fingerprint_feedback_client", ChangeOfMindMidway)
    assert feedback.suspect_report_send(report_id=report.pk) == "sent"
    assert told(sandbox, first) == [True, False]  # the later wish wins, after the first
    report.refresh_from_db()
    assert (report.wanted, report.reported, report.status) == (False, False, "sent")


@pytest.mark.django_db
def test_a_refusal_does_not_swallow_a_wish_that_came_meanwhile(
    sandbox, reviewer, settings, monkeypatch
):
    first, _ = one_device(sandbox, 2, settings)
    decide(reviewer, "block_device", device=first.device)
    real_client = feedback.fingerprint_feedback_client

    class RefusedThenTakenBack:
        def update_event(self, event_id, **kwargs):
            if event_id == event_of(first) and kwargs["suspect"]:
                sandbox.set_faults(target="events", status=403, count=1)
                decide(reviewer, "unblock_device", device=first.device)
            real_client().update_event(event_id, **kwargs)

    monkeypatch.setattr(feedback, "fingerprint_feedback_client", RefusedThenTakenBack)
    assert feedback.suspect_report_send(report_id=report_of(first).pk) == "in_step"
    report = report_of(first)  # `false` wanted, never told `true`: nothing to send
    assert (report.wanted, report.reported, report.status) == (False, None, "not_needed")
    assert outcomes(first) == ["refused"] and told(sandbox, first) == []


@pytest.mark.django_db
def test_a_decision_already_reported_is_not_sent_again(sandbox, reviewer, settings):
    first, held = one_device(sandbox, 2, settings)
    decide(reviewer, "reject", attempt=first)
    send_owed()
    report = report_of(first)
    before = patches(sandbox)
    # The task delivered again (a worker died before acknowledging it): nothing sent.
    assert tasks.suspect_report_task.apply(args=(report.pk,)).get() == "in_step"
    # A block asks for `true` again on that event: only the other event is sent.
    decide(reviewer, "block_device", device=first.device)
    assert report_of(first).decision_id == report.decision_id  # the wish did not change
    assert send_owed() == {"sent": 1}
    assert told(sandbox, first) == [True] and told(sandbox, held) == [True]
    assert patches(sandbox) == before + 1


@pytest.mark.django_db
def test_a_5xx_is_retried_until_fingerprint_answers(sandbox, reviewer, eager_retries):
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    sandbox.set_faults(target="events", status=503, count=2)
    retried_before = counted("retry")
    result = tasks.suspect_report_task.apply(args=(report_of(attempt).pk,))
    assert result.get() == "sent"
    assert outcomes(attempt) == ["retry", "retry", "sent"]
    assert sandbox.stats()["faults_applied"]["v4_patch_event"] >= 2
    assert told(sandbox, attempt) == [True]
    assert counted("retry") == retried_before + 2
    log = SuspectReportLog.objects.filter(event_id=event_of(attempt), outcome="retry").first()
    assert (log.http_status, log.code) == (503, "service_unavailable")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [409, 429])
def test_state_not_ready_and_rate_limits_are_retried_too(sandbox, reviewer, eager_retries, status):
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    sandbox.set_faults(target="events", status=status, count=1)
    assert tasks.suspect_report_task.apply(args=(report_of(attempt).pk,)).get() == "sent"
    assert outcomes(attempt) == ["retry", "sent"]


@pytest.mark.django_db
def test_fingerprint_down_for_good_leaves_the_report_owed_after_the_last_retry(
    sandbox, reviewer, eager_retries, monkeypatch
):
    monkeypatch.setattr(tasks.suspect_report_task, "max_retries", 2)
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    sandbox.set_faults(target="events", status=500)
    assert tasks.suspect_report_task.apply(args=(report_of(attempt).pk,)).get() == "gave_up"
    assert outcomes(attempt) == ["retry", "retry", "retry", "gave_up"]
    report = report_of(attempt)
    assert report.status == "due" and "500" in report.last_error
    with pytest.raises(CommandError, match="could not be reported"):
        call_command("send_suspect_feedback", stdout=open("/dev/null", "w"))  # noqa: SIM115
    sandbox.clear_faults()
    call_command("send_suspect_feedback", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert told(sandbox, attempt) == [True]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "code"), [(400, "request_cannot_be_parsed"), (403, "secret_api_key_not_found")]
)
def test_a_4xx_is_recorded_and_not_retried(sandbox, reviewer, eager_retries, status, code):
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    sandbox.set_faults(target="events", status=status)
    refused_before = counted("refused")
    report = report_of(attempt)
    assert tasks.suspect_report_task.apply(args=(report.pk,)).get() == "refused"
    assert sandbox.stats()["faults_applied"].get("v4_patch_event", 0) >= 1
    applied = sandbox.stats()["faults_applied"]["v4_patch_event"]
    report.refresh_from_db()
    assert report.status == "refused" and code in report.last_error
    log = SuspectReportLog.objects.get(event_id=event_of(attempt))
    assert (log.outcome, log.http_status, log.code) == ("refused", status, code)
    assert counted("refused") == refused_before + 1
    # Final: neither the task again nor the command asks Fingerprint again.
    assert tasks.suspect_report_task.apply(args=(report.pk,)).get() == "refused"
    assert send_owed() == {}
    assert sandbox.stats()["faults_applied"]["v4_patch_event"] == applied
    assert told(sandbox, attempt) == []


@pytest.mark.django_db
def test_an_event_older_than_a_month_is_recorded_as_too_old(sandbox, reviewer):
    _, attempt = signup(sandbox, "tor")
    FingerprintEvent.objects.filter(pk=attempt.fingerprint_event_id).update(
        timestamp=timezone.now() - timedelta(days=31)
    )
    before = patches(sandbox)
    decide(reviewer, "reject", attempt=attempt)
    report = report_of(attempt)
    assert report.status == "too_old"
    assert outcomes(attempt) == ["too_old"]
    assert send_owed() == {} and patches(sandbox) == before  # Fingerprint is not asked


@pytest.mark.django_db
def test_fingerprint_refusing_an_old_event_is_recorded_as_too_old(sandbox, reviewer, settings):
    # Fingerprint's copy is 31 days old; ours says 29 (the month may be shorter than ours).
    settings.RISK_MAX_EVENT_AGE_S = 40 * 86400
    old = sandbox.create_event("tor", ip="73.99.0.1", age_s=31 * 86400)
    response = APIClient(REMOTE_ADDR="73.99.0.1").post(
        "/api/signup",
        {"event_id": old["event_id"], "username": "oldtimer", "password": PASSWORD},
        format="json",
    )
    assert response.status_code in (201, 403), response.content
    event = FingerprintEvent.objects.get(event_id=old["event_id"])
    FingerprintEvent.objects.filter(pk=event.pk).update(
        timestamp=timezone.now() - timedelta(days=29)
    )
    attempt = event.attempts.get()
    decide(reviewer, "reject", attempt=attempt)
    assert send_owed() == {"too_old": 1}
    log = SuspectReportLog.objects.get(event_id=old["event_id"])
    assert (log.outcome, log.http_status) == ("too_old", 400)
    assert report_of(attempt).status == "too_old"


@pytest.mark.django_db
def test_beat_sweeps_what_a_lost_task_left_owed(sandbox, reviewer, monkeypatch):
    entry = celery_app.conf.beat_schedule["send-suspect-feedback"]
    assert entry["task"] == tasks.suspect_feedback_sweep_task.name
    _, lost = signup(sandbox, "tor")
    _, fresh = signup(sandbox, "tor")
    _, stuck = signup(sandbox, "tor")
    for attempt in (lost, fresh, stuck):
        decide(reviewer, "reject", attempt=attempt)
    long_ago = timezone.now() - feedback.IDLE_BEFORE_SWEEP - timedelta(minutes=1)
    SuspectReport.objects.filter(event=lost.fingerprint_event).update(updated_at=long_ago)
    # A sender that died mid-request: its lease ran out.
    SuspectReport.objects.filter(event=stuck.fingerprint_event).update(
        status="sending", claimed_until=timezone.now() - timedelta(seconds=1)
    )
    enqueued = []
    monkeypatch.setattr(feedback, "enqueue", lambda task, *args: not enqueued.append((task, *args)))
    assert tasks.suspect_feedback_sweep_task.apply().get() == 2
    # The fresh one may still have its task on the way: left alone.
    assert sorted(enqueued) == sorted(
        [(feedback.REPORT_TASK, report_of(lost).pk), (feedback.REPORT_TASK, report_of(stuck).pk)]
    )


@pytest.mark.django_db
def test_with_the_feedback_off_nothing_is_recorded_or_sent(sandbox, reviewer, settings):
    _, owed = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=owed)  # owed while it was on
    settings.FINGERPRINT_SUSPECT_FEEDBACK = False
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    decide(reviewer, "block_device", device=attempt.device)
    assert not SuspectReport.objects.filter(event=attempt.fingerprint_event).exists()
    before = patches(sandbox)
    assert tasks.suspect_report_task.apply(args=(report_of(owed).pk,)).get() == "off"
    assert send_owed() == {"off": 1}
    assert patches(sandbox) == before
    assert told(sandbox, owed) == told(sandbox, attempt) == []
    assert report_of(owed).status == "due"  # kept: sent if it is switched on again


@pytest.mark.django_db
def test_v3_workspaces_are_told_through_the_legacy_put(sandbox, reviewer, settings):
    settings.FINGERPRINT_API_VERSION = "v3"
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)
    assert send_owed() == {"sent": 1}
    (row,) = sandbox.feedback(event_of(attempt))
    assert (row["api"], row["suspect"]) == ("v3", True)
    assert sandbox.event_meta(event_of(attempt))["suspect"] is True
    assert sandbox.stats()["requests"].get("v3_update_event", 0) >= 1


@pytest.mark.django_db
def test_outcomes_are_counted_in_metrics(sandbox, reviewer, settings):
    settings.METRICS_TOKEN = TOKEN
    _, attempt = signup(sandbox, "tor")
    decide(reviewer, "reject", attempt=attempt)

    def scraped(outcome: str) -> float:
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        line = f'fpdjango_suspect_feedback_total{{outcome="{outcome}"}} '
        found = [row for row in response.content.decode().splitlines() if row.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    before = scraped("sent")
    send_owed()
    assert scraped("sent") == before + 1


def test_the_counter_works_without_prometheus_client():
    """Without the `prometheus` extra the metrics are no-ops, and recording one is harmless."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'fpdjango.test_settings'\n"
        "django.setup()\n"
        "from risk import observability\n"
        "observability.suspect_feedback_record(outcome='sent'); print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().endswith("ok"), done.stderr


# --- a real worker, after the decision commits --------------------------------------------


def statuses() -> set[str]:
    return set(SuspectReport.objects.values_list("status", flat=True))


def worker_env(sandbox_server) -> dict:
    return {"FINGERPRINT_API_URL": sandbox_server.url, "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY}


@pytest.mark.django_db(transaction=True)
def test_a_worker_tells_fingerprint_after_the_decision_commits(
    celery_broker, celery_worker_factory, sandbox, sandbox_server, settings, tmp_path
):
    celery_worker_factory(extra_env=worker_env(sandbox_server))
    reviewer = make_reviewer("wanda")
    first, held = one_device(sandbox, 2, settings)
    decide(reviewer, "block_device", device=first.device)
    log = tmp_path / "worker-0.log"

    def both(n: int) -> bool:
        return len(told(sandbox, first)) == len(told(sandbox, held)) == n

    assert wait_until(lambda: both(1), timeout=30), log.read_text()
    assert told(sandbox, first) == told(sandbox, held) == [True]
    # Decided at once, maybe while a request is on the way: the later wish still goes out.
    decide(reviewer, "unblock_device", device=first.device)
    assert wait_until(lambda: both(2), timeout=30), log.read_text()
    assert told(sandbox, first) == told(sandbox, held) == [True, False]
    # (The worker marks the reports sent just after Fingerprint answered.)
    assert wait_until(lambda: statuses() == {"sent"}, timeout=10), statuses()
    decide(reviewer, "approve", attempt=held)  # already false at Fingerprint
    time.sleep(2)  # time enough for a worker to send something it should not
    assert told(sandbox, held) == [True, False]


@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_a_5xx_with_backoff(
    celery_broker, celery_worker_factory, sandbox, sandbox_server, tmp_path
):
    celery_worker_factory(extra_env=worker_env(sandbox_server))
    _, attempt = signup(sandbox, "tor")
    sandbox.set_faults(target="events", status=500, count=2)
    decide(make_reviewer("walt"), "reject", attempt=attempt)
    log = tmp_path / "worker-0.log"
    assert wait_until(lambda: report_of(attempt).status == "sent", timeout=60), log.read_text()
    assert told(sandbox, attempt) == [True]
    rows = list(SuspectReportLog.objects.filter(event_id=event_of(attempt)).order_by("pk"))
    assert [row.outcome for row in rows] == ["retry", "retry", "sent"]
    # Backed off between the tries (jittered: at least half of 2 s, then of 4 s).
    gaps = [(b.created_at - a.created_at).total_seconds() for a, b in itertools.pairwise(rows)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps
