"""risk/services/rescore.py: today's rules over stored attempts (made through the real signup
API, the sandbox over HTTP), reported, and recorded beside the original decision."""

from datetime import timedelta

import pytest
from django.utils import timezone

from risk.conf import risk_settings
from risk.models import FingerprintEvent, Reassessment, SignupAttempt
from risk.services.jobs import BackfillError
from risk.services.rescore import attempt_context_rebuild, attempts_rescore
from tests.support.review import empty_cache, signup  # noqa: F401

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


def rescore(**options):
    options.setdefault("since", timezone.now() - HOUR)
    options.setdefault("until", timezone.now() + HOUR)
    return attempts_rescore(run_id=options.pop("run_id", "run-1"), cfg=risk_settings(), **options)


def test_the_context_is_the_signups_own_time_network_and_history(sandbox):
    _, attempt = signup(sandbox, "human")
    attempt.facts = {}  # recorded before facts were kept: approximated from current data
    ctx = attempt_context_rebuild(attempt=attempt, accounts_before=3)
    assert ctx.now == attempt.created_at and ctx.client_ip == attempt.client_ip
    assert ctx.event.event_id == attempt.event_id and ctx.device_accounts == 3
    attempt.facts = {"device_accounts": 1}
    assert attempt_context_rebuild(attempt=attempt, accounts_before=3).device_accounts == 1


def test_nothing_to_score_without_an_event_or_after_a_purge():
    imported = SignupAttempt.objects.create(username="imp", event_id="", decision="allow")
    assert attempt_context_rebuild(attempt=imported, accounts_before=0) is None
    purged = FingerprintEvent.objects.create(event_id="1700000000000.purged", raw={})
    gone = SignupAttempt.objects.create(username="p", event_id=purged.event_id, decision="allow",
                                        fingerprint_event=purged)  # fmt: skip
    assert attempt_context_rebuild(attempt=gone, accounts_before=0) is None
    down = SignupAttempt.objects.create(
        username="d", event_id="1700000000000.down00", decision="unverified",
        reasons=["fingerprint_unavailable"],
    )  # fmt: skip
    assert attempt_context_rebuild(attempt=down, accounts_before=0).fetch_failure == "unavailable"


def test_a_changed_verdict_is_recorded_and_queued_and_the_original_kept(sandbox):
    _, person = signup(sandbox, "human")
    _, bot = signup(sandbox, "bad_bot")
    SignupAttempt.objects.filter(pk=bot.pk).update(decision="allow", reasons=[])  # laxer rules then
    SignupAttempt.objects.create(username="imp", event_id="", decision="allow")

    dry = rescore(dry_run=True)
    assert dict(dry.transitions) == {"allow->deny": 1} and dry.reasons_added["bot_bad"] == 1
    assert not Reassessment.objects.exists()

    report = rescore()
    assert report.tally.counts["skipped_no_event"] == 1
    (row,) = Reassessment.objects.filter(previous_decision="allow", decision="deny")
    assert row.attempt_id == bot.pk and row.run_id == "run-1" and "bot_bad" in row.reasons
    bot.refresh_from_db()
    assert bot.decision == "allow" and bot.review_status == "pending"  # queued, not rewritten
    person.refresh_from_db()
    assert (
        person.review_status == "" and Reassessment.objects.get(attempt=person).decision == "allow"
    )
    rescore()  # the same run id again adds nothing
    assert Reassessment.objects.count() == 2


def test_a_window_backwards_is_refused():
    with pytest.raises(BackfillError) as refused:
        rescore(since=timezone.now(), until=timezone.now() - HOUR)
    assert refused.value.code == "invalid_range"
