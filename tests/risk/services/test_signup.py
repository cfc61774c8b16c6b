"""risk/services/signup.py: fetching the event on the signup path (bounded upstream use), and the
decision's writes."""

import logging

import pytest
from django.contrib.auth import get_user_model

from risk.fingerprint.events import normalise_event
from risk.models import Device, SignupAttempt
from risk.observability import SignupTiming
from risk.services import signup
from risk.services.snapshots import event_snapshot_store
from tests.support.upstream import event_calls, post

pytestmark = pytest.mark.django_db


def test_signup_never_retries_a_429_and_logs_our_quota(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 3
    settings.FINGERPRINT_FAILURE_POLICY = "review"
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=429)
    before = event_calls(sandbox)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        response = post(event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    assert event_calls(sandbox) - before == 1  # one call, no retry
    attempt = SignupAttempt.objects.get()
    assert attempt.fingerprint_error.startswith("quota:")
    quota_logs = [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]
    assert [r.fingerprint_error_kind for r in quota_logs] == ["quota_exhausted"]
    assert quota_logs[0].levelno == logging.ERROR
    assert "quota exhausted" in quota_logs[0].getMessage()


def test_signup_still_retries_a_5xx_within_the_budget(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 2
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=503, count=1)
    before = event_calls(sandbox)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        response = post(event["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "created"
    assert event_calls(sandbox) - before == 2
    assert not [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]


def test_fingerprint_down_is_not_logged_as_quota(sandbox, settings, caplog):
    settings.FINGERPRINT_MAX_RETRIES = 0
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    sandbox.set_faults(target="events", status=500)
    with caplog.at_level(logging.WARNING, logger="risk.services.signup"):
        post(event["event_id"])
    assert not [r for r in caplog.records if getattr(r, "fingerprint_error_kind", "")]
    assert not SignupAttempt.objects.get().fingerprint_error.startswith("quota:")


# --- the decision's writes, called directly ------------------------------------------------


def decide(sandbox, profile="human", **request):
    event = sandbox.create_event(profile=profile, ip="127.0.0.1")
    fields = {"event_id": event["event_id"], "username": "direct", "client_ip": "127.0.0.1"}
    req = signup.SignupRequest(**{**fields, **request})
    fetched = signup.event_fetch(event_id=req.event_id)
    return event, signup.signup_decide(request=req, fetched=fetched, timing=SignupTiming())


def test_an_allowed_decision_claims_its_event_and_counts_on_its_device(sandbox):
    event, attempt = decide(sandbox)
    assert attempt.decision == "allow" and attempt.claimed_event_id == event["event_id"]
    assert attempt.fingerprint_event.raw == event
    device = Device.objects.get(pk=attempt.device_id)
    assert (device.attempt_count, device.account_count) == (1, 1)
    req = signup.SignupRequest(event_id=event["event_id"], username="again", client_ip="127.0.0.1")
    reused = signup.signup_decide(
        request=req, fetched=signup.event_fetch(event_id=req.event_id), timing=SignupTiming()
    )
    assert reused.decision == "deny" and "event_reused" in reused.reasons
    assert reused.claimed_event_id is None  # the event backs one attempt, ever


def test_an_unknown_event_is_denied_without_a_device_and_not_burnt(sandbox):
    req = signup.SignupRequest(event_id="1700000000000.nosuch", username="x", client_ip="127.0.0.1")
    fetched = signup.event_fetch(event_id=req.event_id)
    assert (fetched.event, fetched.failure) == (None, "not_found")
    attempt = signup.signup_decide(request=req, fetched=fetched, timing=SignupTiming())
    assert attempt.decision == "deny" and attempt.reasons == ["event_not_found"]
    assert attempt.device is None and attempt.claimed_event_id is None


def test_the_account_is_linked_once_and_a_held_one_made_inactive(sandbox):
    _, held = decide(sandbox, "tor")
    assert held.decision == "review"
    user = get_user_model().objects.create_user("held_user")  # active, as a host might leave it
    assert signup.attempt_account_link(attempt=held, account=user)
    user.refresh_from_db()
    assert not user.is_active and SignupAttempt.objects.get(pk=held.pk).account == user
    other = get_user_model().objects.create_user("second_try")
    assert not signup.attempt_account_link(attempt=held, account=other)  # it has its account


def test_a_failed_account_gives_the_slot_and_the_event_back_and_a_retry_is_known(sandbox):
    event, attempt = decide(sandbox)
    retry = signup.SignupRequest(
        event_id=event["event_id"], username="DIRECT", client_ip="127.0.0.1"
    )
    claim = signup.event_claim_read(event["event_id"])
    assert claim.attempt_id == attempt.pk
    # same id, name (any case), client
    assert signup.signup_retry_of(request=retry, claim=claim) == attempt
    elsewhere = signup.SignupRequest(
        event_id=event["event_id"], username="direct", client_ip="10.0.0.1"
    )
    assert signup.signup_retry_of(request=elsewhere, claim=claim) is None
    assert signup.signup_retry_of(request=retry, claim=None) is None
    assert signup.attempt_account_failed(attempt=attempt, reason="account_failed")
    attempt.refresh_from_db()
    assert attempt.decision == "deny" and attempt.reasons[-1] == "account_failed"
    assert attempt.claimed_event_id is None
    assert Device.objects.get(pk=attempt.device_id).account_count == 0
    assert not signup.attempt_account_failed(attempt=attempt)  # once
    _, again = decide(sandbox, username="direct2")  # a new event of another device: fine
    assert again.decision == "allow"


def test_a_device_created_meanwhile_by_another_signup_is_counted_on(sandbox, monkeypatch):
    """The plain read missed the device (another signup stored it right after): the insert
    fails on the unique visitor id and the transaction runs again on the stored row."""
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    visitor = event["identification"]["visitor_id"]
    stored = Device.objects.create(visitor_id=visitor, platform="js")
    misses = iter([None])
    real = signup.device_of_visitor
    monkeypatch.setattr(
        signup, "device_of_visitor", lambda v, **kw: next(misses, None) or real(v, **kw)
    )
    req = signup.SignupRequest(event_id=event["event_id"], username="late", client_ip="127.0.0.1")
    attempt = signup.signup_decide(
        request=req, fetched=signup.event_fetch(event_id=req.event_id), timing=SignupTiming()
    )
    assert attempt.device_id == stored.pk and Device.objects.count() == 1
    stored.refresh_from_db()
    assert (stored.attempt_count, stored.account_count) == (1, 1)


def test_a_snapshot_stored_before_the_signup_is_the_one_it_links(sandbox):
    """A webhook (or a backfill) stored the event first: the signup links that row, whose raw
    JSON it does not rewrite, and gives it its device."""
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    early = event_snapshot_store(event=normalise_event(event), device=None)
    req = signup.SignupRequest(event_id=event["event_id"], username="hook", client_ip="127.0.0.1")
    attempt = signup.signup_decide(
        request=req, fetched=signup.event_fetch(event_id=req.event_id), timing=SignupTiming()
    )
    assert attempt.fingerprint_event_id == early.pk
    early.refresh_from_db()
    assert early.device_id == attempt.device_id is not None


def test_a_retry_from_a_link_local_client_is_known(sandbox):
    """The stored address has no zone (the database drops it): the retry compares addresses."""
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    req = signup.SignupRequest(event_id=event["event_id"], username="ada", client_ip="fe80::1%eth0")
    attempt = signup._AttemptRow(request=req).attempt(
        claimed_event_id=req.event_id, decision="allow", reasons=[], checks={}
    )
    attempt.save()
    claim = signup.event_claim_read(req.event_id)
    assert signup.signup_retry_of(request=req, claim=claim) == attempt


def test_receivers_of_the_account_see_the_device_as_stored(sandbox, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 5
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    visitor = first["identification"]["visitor_id"]
    again = sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor)
    for event, name in ((first, "one"), (again, "two")):
        req = signup.SignupRequest(event_id=event["event_id"], username=name, client_ip="127.0.0.1")
        fetched = signup.event_fetch(event_id=req.event_id)
        attempt = signup.signup_decide(request=req, fetched=fetched, timing=SignupTiming())
    stored = Device.objects.get(pk=attempt.device_id)
    assert (attempt.device.attempt_count, attempt.device.account_count) == (2, 2)
    assert (stored.attempt_count, stored.account_count) == (2, 2)


def test_a_new_android_device_stored_by_the_drn_lookup_is_not_inserted_twice(
    sandbox, settings, monkeypatch
):
    """The signup-time DRN lookup stores a new Android device: the decision counts on that row
    instead of failing its own insert and running again."""
    settings.FINGERPRINT_DRN_SIGNUP_BUDGET_S = 0  # the lookup stores the device, then defers
    event = sandbox.create_event("android", ip="127.0.0.1")

    def careful(**kwargs):
        raise AssertionError("the transaction ran again")

    monkeypatch.setattr(signup, "device_for_signup", careful)
    req = signup.SignupRequest(event_id=event["event_id"], username="droid", client_ip="127.0.0.1")
    fetched = signup.event_fetch(event_id=req.event_id)
    attempt = signup.signup_decide(request=req, fetched=fetched, timing=SignupTiming())
    device = Device.objects.get()
    assert attempt.device_id == device.pk and (device.attempt_count, device.account_count) == (1, 1)
