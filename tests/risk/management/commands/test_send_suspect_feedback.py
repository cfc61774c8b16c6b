"""manage.py send_suspect_feedback: without a broker, the cron job that tells Fingerprint what
reviewers' decisions owe it (the sandbox over real HTTP, which keeps every flag it is told)."""

import io

import pytest
from django.core.management import CommandError, call_command

from risk.models import SuspectReport
from risk.services.review import review_decide
from tests.support.review import make_reviewer, signup

pytestmark = pytest.mark.django_db


def run(**options) -> dict[str, int]:
    out = io.StringIO()
    call_command("send_suspect_feedback", stdout=out, **options)
    title, *lines = out.getvalue().splitlines()
    assert title == "send_suspect_feedback: summary"
    return {name: int(n) for name, n in (line.split() for line in lines)}


def rejected(sandbox, reviewer):
    _, attempt = signup(sandbox, "tor")
    review_decide(actor=reviewer, action="reject", reason="fake_identity", attempt=attempt)
    return attempt


def told(sandbox, attempt) -> list[bool]:
    return [row["suspect"] for row in sandbox.feedback(attempt.fingerprint_event.event_id)]


def test_it_sends_what_is_owed_up_to_its_limit_and_nothing_twice(sandbox):
    reviewer = make_reviewer("rita")
    first, second = rejected(sandbox, reviewer), rejected(sandbox, reviewer)
    assert run(limit=1) == {"sent": 1}
    assert run() == {"sent": 1}
    assert told(sandbox, first) == [True] and told(sandbox, second) == [True]
    assert run() == {}  # Fingerprint has it all: nothing is sent again
    assert set(SuspectReport.objects.values_list("status", flat=True)) == {"sent"}


def test_fingerprint_unavailable_exits_non_zero_and_the_next_run_sends_it(sandbox, settings):
    settings.FINGERPRINT_MAX_RETRIES = 0
    attempt = rejected(sandbox, make_reviewer("rita"))
    sandbox.set_faults(target="events", status=503)
    with pytest.raises(CommandError, match="1 event\\(s\\) could not be reported"):
        run()
    assert told(sandbox, attempt) == []
    sandbox.clear_faults()
    assert run() == {"sent": 1} and told(sandbox, attempt) == [True]


def test_with_the_feedback_off_it_says_so_and_sends_nothing(sandbox, settings):
    attempt = rejected(sandbox, make_reviewer("rita"))
    settings.FINGERPRINT_SUSPECT_FEEDBACK = False
    assert run() == {"off": 1} and told(sandbox, attempt) == []
