"""Safe decisions for a team: claims, refusal when no longer pending (a real two-thread race),
the approval guard, the block cascade and its exact reversal, signals and emails."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.utils import timezone

from risk.models import Device, ReviewDecision, SignupAttempt
from risk.services.review import ReviewError, attempt_claim, review_decide
from risk.signals import review_decided, signup_decided
from tests.support.review import make_reviewer, signup

User = get_user_model()


@pytest.fixture
def alice(db):
    return make_reviewer("alice")


@pytest.fixture
def bob(db):
    return make_reviewer("bob")


def held(sandbox, **extra):
    response, attempt = signup(sandbox, "tor", **extra)
    assert attempt.review_status == "pending", response.content
    return attempt


def code_of(call) -> str:
    with pytest.raises(ReviewError) as info:
        call()
    return info.value.code


# --- refusal when no longer pending --------------------------------------------------------


@pytest.mark.django_db
def decide_at_once(*decisions) -> dict[str, str]:
    """Each (actor, action, reason, attempt) decided in its own thread (its own connection),
    all released together. The outcome per action: "ok", the ReviewError's code, or the name
    of any other exception (what would be a 500, e.g. a deadlock's OperationalError)."""
    barrier = threading.Barrier(len(decisions))
    outcomes: dict[str, str] = {}

    def decide(actor, action, reason, attempt):
        copy = SignupAttempt.objects.get(pk=attempt.pk)  # each loaded it while pending
        barrier.wait()
        try:
            review_decide(actor=actor, action=action, reason=reason, attempt=copy)
            outcomes[action] = "ok"
        except ReviewError as exc:
            outcomes[action] = exc.code
        except Exception as exc:
            outcomes[action] = type(exc).__name__
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=decision) for decision in decisions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_second_decision_is_refused_and_changes_nothing(sandbox, alice, bob):
    attempt = held(sandbox)
    review_decide(actor=alice, action="approve", reason="legitimate_user", attempt=attempt)
    stale = SignupAttempt.objects.get(pk=attempt.pk)
    stale.review_status = "pending"  # bob's page was loaded before alice decided

    with pytest.raises(ReviewError) as info:
        review_decide(actor=bob, action="reject", reason="bot", attempt=stale)
    assert info.value.code == "not_pending"
    assert "already approved by alice" in info.value.message
    attempt.refresh_from_db()
    assert attempt.review_status == "approved" and User.objects.get(pk=attempt.account_id).is_active
    assert ReviewDecision.objects.filter(attempt=attempt).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_racing_on_one_attempt_one_wins(sandbox):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises whole-database writes)")
    alice, bob = make_reviewer("alice"), make_reviewer("bob")
    for _ in range(5):  # several rounds: either thread may win each one
        attempt = held(sandbox)
        outcomes = decide_at_once(
            (alice, "approve", "legitimate_user", attempt), (bob, "reject", "bot", attempt)
        )
        assert sorted(outcomes.values()) == ["not_pending", "ok"]
        winner = next(action for action, result in outcomes.items() if result == "ok")
        attempt.refresh_from_db()
        assert attempt.review_status == {"approve": "approved", "reject": "rejected"}[winner]
        active = User.objects.get(pk=attempt.account_id).is_active
        assert active is (winner == "approve")
        (row,) = ReviewDecision.objects.filter(attempt=attempt)
        assert row.action == winner


@pytest.mark.django_db
def test_unverified_attempts_cannot_be_decided(sandbox, alice):
    attempt = held(sandbox)
    SignupAttempt.objects.filter(pk=attempt.pk).update(decision="unverified", review_status="")
    attempt.refresh_from_db()
    assert (
        code_of(
            lambda: review_decide(
                actor=alice, action="approve", reason="legitimate_user", attempt=attempt
            )
        )
        == "unverified"
    )


# --- approval guard --------------------------------------------------------------------------


@pytest.mark.django_db
def test_approval_refused_on_a_blocked_device(sandbox, alice):
    attempt = held(sandbox)
    Device.objects.filter(pk=attempt.device_id).update(status="blocked")
    assert (
        code_of(
            lambda: review_decide(
                actor=alice, action="approve", reason="legitimate_user", attempt=attempt
            )
        )
        == "device_blocked"
    )
    attempt.refresh_from_db()
    assert attempt.review_status == "pending" and not ReviewDecision.objects.exists()


@pytest.mark.django_db
def test_approval_at_the_hard_limit_needs_an_explicit_trust(sandbox, alice, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 5
    first = held(sandbox)
    second = held(sandbox, visitor_id=first.visitor_id)
    assert second.device_id == first.device_id
    # the device reached the hard limit while `second` waited (the limit was lowered)
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = 1
    assert (
        code_of(
            lambda: review_decide(
                actor=alice, action="approve", reason="legitimate_user", attempt=second
            )
        )
        == "device_at_limit"
    )
    second.refresh_from_db()
    assert second.review_status == "pending"

    review_decide(actor=alice, action="trust_device", reason="shared_device", attempt=second)
    second.refresh_from_db()
    assert second.review_status == "approved" and second.device.status == "trusted"
    assert User.objects.get(pk=second.account_id).is_active


# --- claims ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_keeps_others_off_until_it_expires(sandbox, alice, bob):
    attempt = held(sandbox)
    attempt_claim(actor=alice, attempt=attempt)
    assert attempt.claimed_by_id == alice.pk
    assert attempt.claimed_until > timezone.now() + timedelta(minutes=14)

    assert code_of(lambda: attempt_claim(actor=bob, attempt=attempt)) == "claimed_by_other"
    with pytest.raises(ReviewError) as info:
        review_decide(actor=bob, action="reject", reason="bot", attempt=attempt)
    assert info.value.code == "claimed_by_other" and "alice is reviewing" in info.value.message

    SignupAttempt.objects.filter(pk=attempt.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    attempt_claim(actor=bob, attempt=attempt)  # expired: bob takes it
    review_decide(actor=bob, action="reject", reason="bot", attempt=attempt)
    attempt.refresh_from_db()
    assert attempt.review_status == "rejected" and attempt.claimed_by_id is None
    assert code_of(lambda: attempt_claim(actor=alice, attempt=attempt)) == "not_pending"


# --- block cascade and exact reversal --------------------------------------------------------


@pytest.mark.django_db
def test_block_cascades_and_unblock_reverses_exactly(sandbox, alice, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 10
    _, active = signup(sandbox, "human")
    visitor = active.visitor_id
    pending = held(sandbox, visitor_id=visitor)
    decided = held(sandbox, visitor_id=visitor)
    review_decide(actor=alice, action="reject", reason="bot", attempt=decided)
    _, other_device = signup(sandbox, "human")
    device = Device.objects.get(visitor_id=visitor)

    block = review_decide(actor=alice, action="block_device", reason="account_farm", device=device)
    effects = {(e.action, e.attempt_id) for e in block.effects.all()}
    assert effects == {("block_reject", pending.pk), ("block_deactivate", active.pk)}
    pending.refresh_from_db()
    assert pending.review_status == "rejected"
    assert not User.objects.get(pk=active.account_id).is_active
    assert User.objects.get(pk=other_device.account_id).is_active  # another device: untouched

    unblock = review_decide(
        actor=alice, action="unblock_device", reason="blocked_by_mistake", device=device
    )
    assert {(e.action, e.attempt_id) for e in unblock.effects.all()} == {
        ("unblock_restore", pending.pk),
        ("unblock_restore", active.pk),
    }
    device.refresh_from_db()
    pending.refresh_from_db()
    decided.refresh_from_db()
    assert device.status == "normal"
    assert pending.review_status == "pending"  # back in the queue
    assert not User.objects.get(pk=pending.account_id).is_active  # held accounts stay inactive
    assert User.objects.get(pk=active.account_id).is_active
    assert decided.review_status == "rejected"  # the block did not do that: stays


@pytest.mark.django_db
def test_unblocking_never_reactivates_what_was_decided_or_erased_after_the_block(
    sandbox, alice, settings
):
    """After the block: a reviewer rejects one of the device's accounts, and another person on
    it is erased. The unblock restores neither: the later decision wins."""
    from django.core.management import call_command

    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 10
    _, kept = signup(sandbox, "human", email="kept@example.com")
    visitor = kept.visitor_id
    _, rejected = signup(sandbox, "human", visitor_id=visitor, email="rej@example.com")
    _, erased = signup(sandbox, "human", visitor_id=visitor, email="gone@example.com")
    assert {a.decision for a in (kept, rejected, erased)} == {"allow"}
    device = Device.objects.get(visitor_id=visitor)
    review_decide(actor=alice, action="block_device", reason="account_farm", device=device)
    rejected.refresh_from_db()
    review_decide(actor=alice, action="reject", reason="fraud_ring", attempt=rejected)
    call_command("erase_person", email="gone@example.com", reason="ticket 3")

    review_decide(actor=alice, action="unblock_device", reason="appeal_upheld", device=device)
    assert User.objects.get(pk=kept.account_id).is_active  # what the block alone did: undone
    assert not User.objects.get(pk=rejected.account_id).is_active
    assert not User.objects.get(pk=erased.account_id).is_active
    rejected.refresh_from_db()
    assert rejected.review_status == "rejected"


@pytest.mark.django_db
def test_block_unblock_cycles_and_refusals(sandbox, alice, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 10
    _, active = signup(sandbox, "human")
    device = active.device

    def decide(action, reason):
        return review_decide(actor=alice, action=action, reason=reason, device=device)

    decide("block_device", "bot")
    assert code_of(lambda: decide("block_device", "bot")) == "already_blocked"
    decide("unblock_device", "appeal_upheld")
    assert User.objects.get(pk=active.account_id).is_active
    assert code_of(lambda: decide("unblock_device", "appeal_upheld")) == "not_blocked"

    # a second block after the unblock: its own cascade, reversed by the next unblock
    later = held(sandbox, visitor_id=active.visitor_id)
    second = decide("block_device", "repeat_abuse")
    assert {e.attempt_id for e in second.effects.all()} == {active.pk, later.pk}
    restored = decide("unblock_device", "blocked_by_mistake")
    assert restored.effects.count() == 2
    later.refresh_from_db()
    assert later.review_status == "pending" and User.objects.get(pk=active.account_id).is_active


@pytest.mark.django_db
def test_unblock_undoes_every_block_since_the_last_unblock(sandbox, alice, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 10
    first = held(sandbox)
    device = first.device
    review_decide(actor=alice, action="block_device", reason="bot", device=device)
    # trusted in between (no unblock), then blocked again: the first block's cascade still
    # belongs to the block the next unblock reverses
    review_decide(actor=alice, action="trust_device", reason="verified_owner", device=device)
    review_decide(actor=alice, action="block_device", reason="bot", device=device)
    review_decide(actor=alice, action="unblock_device", reason="appeal_upheld", device=device)
    first.refresh_from_db()
    assert first.review_status == "pending"
    device.refresh_from_db()
    assert device.status == "normal"


# --- signals and emails ----------------------------------------------------------------------


@pytest.mark.django_db
def test_each_signal_fires_once_per_decision(sandbox, alice, django_capture_on_commit_callbacks):
    signups, reviews = [], []

    def on_signup(sender, **kwargs):
        signups.append(kwargs)

    def on_review(sender, **kwargs):
        reviews.append(kwargs)

    signup_decided.connect(on_signup)
    review_decided.connect(on_review)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            attempt = held(sandbox)
            _, denied = signup(sandbox, "bad_bot")
        assert [s["attempt"].pk for s in signups] == [attempt.pk, denied.pk]
        assert signups[0]["account"].pk == attempt.account_id and signups[1]["account"] is None

        with django_capture_on_commit_callbacks(execute=True):
            decision = review_decide(
                actor=alice, action="block_device", reason="bot", attempt=attempt
            )
        assert len(reviews) == 1
        assert reviews[0]["decision"] == decision
        assert [e.action for e in reviews[0]["effects"]] == ["block_reject"]

        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ReviewError):
            review_decide(actor=alice, action="approve", reason="legitimate_user", attempt=attempt)
        assert len(reviews) == 1  # a refused decision sends nothing
    finally:
        signup_decided.disconnect(on_signup)
        review_decided.disconnect(on_review)


@pytest.mark.django_db
def test_users_are_emailed_when_their_held_account_is_decided(
    sandbox, alice, settings, django_capture_on_commit_callbacks
):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 10
    _, allowed = signup(sandbox, "human", email="al@example.com")
    assert allowed.decision == "allow"
    approved = held(sandbox, email="ann@example.com")
    rejected = held(sandbox, email="rob@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        review_decide(actor=alice, action="approve", reason="legitimate_user", attempt=approved)
        review_decide(actor=alice, action="reject", reason="fake_identity", attempt=rejected)
        review_decide(actor=alice, action="reject", reason="fake_identity", attempt=allowed)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["ann@example.com"], "Your account is ready"),
        (["rob@example.com"], "About your signup"),
    ]  # the allowed account was never held: no email
    assert approved.username in mail.outbox[0].body

    mail.outbox.clear()
    settings.REVIEW_NOTIFY_USERS = False
    quiet = held(sandbox, email="q@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        review_decide(actor=alice, action="approve", reason="legitimate_user", attempt=quiet)
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_blocking_a_device_and_approving_its_other_attempt_at_once_cannot_deadlock(sandbox):
    """Reviewer A blocks the device from one of its attempts (the cascade locks the device's
    other pending attempts) while reviewer B approves another of them: every path takes the
    device's lock before an attempt's, so one waits for the other instead of deadlocking."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises whole-database writes)")
    alice, bob = make_reviewer("alice"), make_reviewer("bob")
    for round_ in range(6):
        visitor = f"SharedTorBrowser{round_:04d}"
        first, second = held(sandbox, visitor_id=visitor), held(sandbox, visitor_id=visitor)
        outcomes = decide_at_once(
            (alice, "block_device", "bot", first), (bob, "approve", "legitimate_user", second)
        )
        # The block always applies; the approval either went first (then the block
        # deactivates it) or finds the attempt rejected by the cascade (not_pending).
        assert outcomes["block_device"] == "ok", outcomes
        assert outcomes["approve"] in ("ok", "not_pending"), outcomes
        second.refresh_from_db()
        assert second.review_status == "rejected" or not second.account.is_active
