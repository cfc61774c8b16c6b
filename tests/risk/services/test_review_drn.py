"""risk/services/review_drn.py: a reviewer's forced DRN lookup, against the sandbox over HTTP:
who may, for which devices, how often, and what becomes evidence."""

import pytest
from django.contrib.auth import get_user_model

from risk.models import Device, DrnSnapshot, SignupAttempt
from risk.services.review import ReviewError
from risk.services.review_drn import drn_lookup_again
from tests.conftest import drn_calls, settle
from tests.support.review import empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db


def android_attempt(sandbox, **fields) -> SignupAttempt:
    # An odd age keeps the event out of other tests' time-window searches (shared sandbox).
    event = sandbox.create_event("android", age_s=9 * 86_400 + 211)
    device = Device.objects.create(
        visitor_id=event["identification"]["visitor_id"], platform="android"
    )
    return SignupAttempt.objects.create(
        username="droid", event_id=event["event_id"], decision="allow", device=device, **fields
    )


def code_of(call) -> str:
    with pytest.raises(ReviewError) as refused:
        call()
    return refused.value.code


def test_only_reviewers_and_only_android_devices(sandbox):
    attempt = android_attempt(sandbox)
    plain = get_user_model().objects.create_user("plain")
    assert code_of(lambda: drn_lookup_again(actor=plain, attempt=attempt)) == "forbidden"
    assert code_of(lambda: drn_lookup_again(actor=None, attempt=attempt)) == "forbidden"
    browser = Device.objects.create(visitor_id="BrowserDevice0000001", platform="js")
    on_browser = SignupAttempt.objects.create(
        username="b", event_id="e", decision="allow", device=browser
    )
    reviewer = make_reviewer()
    assert code_of(lambda: drn_lookup_again(actor=reviewer, attempt=on_browser)) == "not_android"
    no_device = SignupAttempt.objects.create(username="n", event_id="e2", decision="allow")
    assert code_of(lambda: drn_lookup_again(actor=reviewer, attempt=no_device)) == "not_android"
    assert not DrnSnapshot.objects.exists()


def test_a_forced_lookup_asks_drn_again_and_fills_missing_evidence_only(sandbox):
    attempt = android_attempt(sandbox)
    reviewer = make_reviewer()
    before = drn_calls(sandbox)
    first = drn_lookup_again(actor=reviewer, attempt=attempt)
    assert first.status == "ok"
    attempt.refresh_from_db()
    assert attempt.drn_snapshot == first  # it had none: this becomes its evidence
    second = drn_lookup_again(actor=reviewer, attempt=attempt)
    settle(sandbox, calls_before=before + 1)
    assert drn_calls(sandbox) == before + 2  # the fresh first answer did not stop the second
    attempt.refresh_from_db()
    assert second != first and attempt.drn_snapshot == first  # what was known stays


def test_each_reviewer_has_their_own_hourly_allowance(sandbox, settings):
    settings.REVIEW_DRN_LOOKUPS_PER_HOUR = 2
    attempt = android_attempt(sandbox)
    rita, ben = make_reviewer("rita"), make_reviewer("ben")
    drn_lookup_again(actor=rita, attempt=attempt)
    drn_lookup_again(actor=rita, attempt=attempt)
    calls = drn_calls(sandbox)
    assert code_of(lambda: drn_lookup_again(actor=rita, attempt=attempt)) == "rate_limited"
    assert drn_calls(sandbox) == calls  # refused before any request
    assert drn_lookup_again(actor=ben, attempt=attempt).status == "ok"
