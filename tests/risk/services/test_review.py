"""risk.services.review.review_decide: audit rows and effects, through real signups."""

import pytest
from django.contrib.auth import get_user_model

from risk.models import Device, ReviewDecision, SignupAttempt
from risk.services.review import ReviewError, review_decide
from tests.support.review import make_reviewer, signup

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def reviewer():
    return make_reviewer()


def test_approve_activates_held_account_and_writes_audit_row(sandbox, reviewer):
    response, attempt = signup(sandbox, "tor")
    assert response.json()["status"] == "pending_review"
    assert attempt.review_status == "pending" and not attempt.account.is_active

    decision = review_decide(
        actor=reviewer,
        action="approve",
        reason="vpn_legitimate",
        note=" corp VPN ",
        attempt=attempt,
    )

    attempt.refresh_from_db()
    assert attempt.review_status == "approved"
    assert User.objects.get(pk=attempt.account_id).is_active
    row = ReviewDecision.objects.get()
    assert row == decision
    assert (row.actor, row.attempt, row.action, row.reason, row.note) == (
        reviewer,
        attempt,
        "approve",
        "vpn_legitimate",
        "corp VPN",
    )
    assert row.device_id is None


def test_reject_deactivates_account(sandbox, reviewer):
    _, attempt = signup(sandbox, "human")
    assert attempt.account.is_active
    review_decide(actor=reviewer, action="reject", reason="fake_identity", attempt=attempt)
    attempt.refresh_from_db()
    assert attempt.review_status == "rejected"
    assert not User.objects.get(pk=attempt.account_id).is_active
    assert ReviewDecision.objects.filter(action="reject", attempt=attempt).count() == 1


def test_blocked_device_next_signup_is_denied(sandbox, reviewer, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 5  # the limit must not be what denies
    _, attempt = signup(sandbox, "tor")  # held: a Tor exit
    visitor_id = attempt.visitor_id
    review_decide(
        actor=reviewer, action="block_device", reason="account_farm", attempt=attempt, note="farm"
    )
    device = Device.objects.get(visitor_id=visitor_id)
    assert device.status == "blocked"
    attempt.refresh_from_db()
    assert attempt.review_status == "rejected"
    assert not User.objects.get(pk=attempt.account_id).is_active
    row = ReviewDecision.objects.get(parent=None)
    assert row.device == device and row.attempt == attempt and row.action == "block_device"
    # the cascade: the pending attempt rejected, with its own audit row
    (effect,) = row.effects.all()
    assert (effect.action, effect.attempt, effect.previous) == (
        "block_reject",
        attempt,
        {"review_status": "pending", "is_active": False},
    )

    response, next_attempt = signup(sandbox, "human", visitor_id=visitor_id)
    assert response.status_code == 403
    assert next_attempt.decision == "deny" and "device_blocked" in next_attempt.reasons


def test_trusted_device_next_signup_is_allowed(sandbox, reviewer):
    _, first = signup(sandbox, "human")
    visitor_id = first.visitor_id
    response, second = signup(sandbox, "human", visitor_id=visitor_id)
    assert response.status_code == 201 and second.reasons == ["device_shared"]

    device = Device.objects.get(visitor_id=visitor_id)
    review_decide(actor=reviewer, action="trust_device", reason="shared_device", device=device)
    assert device.status == "trusted"
    assert Device.objects.get(pk=device.pk).status == "trusted"
    assert ReviewDecision.objects.get().device == device

    response, third = signup(sandbox, "human", visitor_id=visitor_id)
    assert response.status_code == 201, response.json()
    assert third.decision == "allow" and User.objects.get(pk=third.account_id).is_active


def test_invalid_decisions_write_nothing(sandbox, reviewer):
    _, held = signup(sandbox, "tor")
    _, denied = signup(sandbox, "bad_bot")
    cases = [
        ({"action": "approve", "reason": "bot", "attempt": held}, "invalid_reason"),
        ({"action": "delete_everything", "reason": "x", "attempt": held}, "invalid_action"),
        ({"action": "approve", "reason": "legitimate_user"}, "missing_attempt"),
        ({"action": "block_device", "reason": "bot"}, "missing_device"),
        ({"action": "approve", "reason": "legitimate_user", "attempt": denied}, "no_account"),
        (
            {"action": "reject", "reason": "bot", "attempt": held, "note": "x" * 2001},
            "note_too_long",
        ),
    ]
    for kwargs, code in cases:
        with pytest.raises(ReviewError) as info:
            review_decide(actor=reviewer, **kwargs)
        assert info.value.code == code
    assert ReviewDecision.objects.count() == 0
    assert SignupAttempt.objects.get(pk=held.pk).review_status == "pending"
    assert not User.objects.get(pk=held.account_id).is_active


def test_actor_without_permission_is_refused(sandbox):
    _, held = signup(sandbox, "tor")
    staff = User.objects.create_user(username="staffonly", password="x", is_staff=True)
    with pytest.raises(ReviewError) as info:
        review_decide(actor=staff, action="approve", reason="legitimate_user", attempt=held)
    assert info.value.code == "forbidden"
    assert ReviewDecision.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_on_one_device_serialise(sandbox):
    """Reviewers blocking and trusting one device at once: the row lock orders them, so the
    device ends in the state of the last audit row, whatever the interleaving."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every writer anyway")
    reviewer = make_reviewer()
    _, attempt = signup(sandbox, "human")
    device = Device.objects.get(pk=attempt.device_id)
    actions = [("block_device", "bot"), ("trust_device", "office_device")] * 4
    barrier = threading.Barrier(len(actions))
    errors = []

    def decide(action, reason):
        try:
            barrier.wait()
            review_decide(actor=reviewer, action=action, reason=reason, device=Device(pk=device.pk))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=pair) for pair in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # a block that finds the device already blocked is refused (nothing to do), nothing else
    assert all(isinstance(e, ReviewError) and e.code == "already_blocked" for e in errors)
    rows = list(ReviewDecision.objects.filter(device=device, parent=None).order_by("pk"))
    assert len(rows) == len(actions) - len(errors)
    expected = {"block_device": "blocked", "trust_device": "trusted"}[rows[-1].action]
    assert Device.objects.get(pk=device.pk).status == expected
