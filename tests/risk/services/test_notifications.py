"""Review emails leave from a Celery worker, retried until the mail server takes them, and the
reviewer's request never waits on the mail server. Real Redis, a real worker subprocess and
real SMTP exchanges (tests/support/smtp_server.py)."""

import smtplib
import socket

import pytest
from django.core import mail

from fpdjango.celery import app as celery_app
from risk import tasks
from risk.models import ReviewEmail
from risk.services.review import review_decide
from tests.support.redis_celery import celery_caches_reset, wait_until
from tests.support.review import make_reviewer, signup
from tests.support.smtp_server import SmtpServer


def held(sandbox, email: str):
    _, attempt = signup(sandbox, "tor", email=email)
    assert attempt.review_status == "pending"
    return attempt


def email_of(attempt) -> int:
    return ReviewEmail.objects.get(attempt=attempt).pk


def approve(attempt) -> None:
    review_decide(
        actor=make_reviewer("rita"), action="approve", reason="legitimate_user", attempt=attempt
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_settings(settings):
    def point_at(server: SmtpServer):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port

    return point_at


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_it_and_retries_until_the_mail_server_answers(
    celery_broker, celery_worker_factory, sandbox, tmp_path
):
    port = closed_port()  # the mail server is down when the reviewer decides
    celery_worker_factory(
        extra_env={"EMAIL_URL": f"smtp://127.0.0.1:{port}", "REVIEW_EMAIL_RETRY_S": "1"}
    )
    attempt = held(sandbox, "ann@example.com")
    approve(attempt)  # commits: the email is queued, not sent from this request
    assert mail.outbox == []
    log = tmp_path / "worker-0.log"
    assert wait_until(lambda: "will retry" in log.read_text(), timeout=30), log.read_text()
    smtp = SmtpServer(port=port)  # back up
    try:
        assert wait_until(lambda: smtp.messages, timeout=30), log.read_text()
        (message,) = smtp.messages
        assert (message["To"], message["Subject"]) == ("ann@example.com", "Your account is ready")
    finally:
        smtp.close()


@pytest.mark.django_db
def test_a_refused_address_is_not_retried_and_a_busy_server_is(sandbox, smtp_settings, monkeypatch):
    # Eager retries run in place, as a worker would run them later, instead of raising Retry.
    monkeypatch.setitem(celery_app.conf, "CELERY_TASK_EAGER_PROPAGATES", False)
    attempt = held(sandbox, "gone@example.com")
    approve(attempt)  # (a non-transactional test: on_commit never runs, nothing is sent)
    smtp = SmtpServer(rcpt_reply=b"550 no such mailbox")
    smtp_settings(smtp)
    try:
        result = tasks.review_email_task.apply(args=(email_of(attempt),))
        assert result.get() == "refused" and smtp.messages == []
        ReviewEmail.objects.filter(attempt=attempt).update(status="due")  # as a new email
        smtp.rcpt_reply = b"451 try again later"
        rcpts = []
        original = smtplib.SMTP.rcpt
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(smtplib.SMTP, "rcpt", lambda *a, **k: rcpts.append(1) or original(*a, **k))
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                tasks.review_email_task.apply(args=(email_of(attempt),)).get()
        assert len(rcpts) == 1 + tasks.review_email_task.max_retries  # eager: retried in place
    finally:
        smtp.close()


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_it_is_sent_from_the_request(
    sandbox, smtp_settings, settings, redis_settings
):
    smtp = SmtpServer()
    smtp_settings(smtp)
    broken = f"redis://127.0.0.1:{closed_port()}/0"
    saved = {k: celery_app.conf.get(k) for k in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER")}
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.update(CELERY_BROKER_URL=broken, CELERY_TASK_ALWAYS_EAGER=False)
    celery_caches_reset()
    try:
        attempt = held(sandbox, "bea@example.com")
        approve(attempt)
        assert [m["To"] for m in smtp.messages] == ["bea@example.com"]
    finally:
        celery_app.conf.update(saved)
        celery_caches_reset()
        smtp.close()


@pytest.mark.django_db(transaction=True)
def test_each_decision_sends_at_most_one_email_however_often_its_task_runs(
    sandbox, smtp_settings, monkeypatch
):
    """A task delivered twice (the broker's visibility timeout is shorter than a retry's
    countdown, or a worker died before acknowledging) and two deliveries racing each other:
    one email, because the decision's marker is claimed before the send."""
    from concurrent.futures import ThreadPoolExecutor

    from risk.services import notifications

    monkeypatch.setattr(notifications, "enqueue", lambda *args: True)  # a worker will send it
    attempt = held(sandbox, "cleo@example.com")
    approve(attempt)
    email = ReviewEmail.objects.get(attempt=attempt)
    assert email.status == "due" and email.decision.action == "approve"
    smtp = SmtpServer()
    smtp_settings(smtp)
    try:
        with ThreadPoolExecutor(4) as pool:
            outcomes = list(
                pool.map(lambda _: tasks.review_email_task.apply(args=(email.pk,)).get(), range(4))
            )
        assert sorted(outcomes) == ["already", "already", "already", "sent"]
        assert tasks.review_email_task.apply(args=(email.pk,)).get() == "already"
        assert [m["To"] for m in smtp.messages] == ["cleo@example.com"]
        email.refresh_from_db()
        assert email.status == "sent"
    finally:
        smtp.close()


@pytest.mark.django_db
def test_an_email_claimed_by_a_sender_that_died_is_not_sent_again(sandbox, smtp_settings):
    attempt = held(sandbox, "dora@example.com")
    approve(attempt)
    email = ReviewEmail.objects.get(attempt=attempt)
    ReviewEmail.objects.filter(pk=email.pk).update(status="sending")  # claimed, then killed
    smtp = SmtpServer()
    smtp_settings(smtp)
    try:
        assert tasks.review_email_task.apply(args=(email.pk,)).get() == "already"
        assert smtp.messages == []
    finally:
        smtp.close()
