"""The one-statement evidence write (PostgreSQL) stores exactly the ORM path's rows, on the
lock-free refusal path and under the device lock, and a lost event claim inside it keeps the
evidence and reserves no account slot (issue 14: fewer round trips)."""

from unittest import mock

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from risk import services
from risk.models import Device, FingerprintEvent, SignupAttempt
from risk.services import evidence

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the single statement is PostgreSQL's"
    ),
]


def assess(fetched, username="bot"):
    return services.signup_assess(
        event_id=fetched.event.event_id,
        fetched=fetched,
        username=username,
        email="Bot@Mail.Example.com",
        client_ip="203.0.113.9",
        origin="",
        endpoint="signup",
    )


def stored_rows() -> dict:
    """Everything a refusal wrote, without what differs by construction (ids, clocks, the
    random reference)."""
    attempt = model_to_dict(
        SignupAttempt.objects.get(),
        exclude=["id", "reference", "created_at", "device", "fingerprint_event"],
    )
    attempt["email_domain_rev"] = SignupAttempt.objects.get().email_domain_rev
    snapshot = model_to_dict(FingerprintEvent.objects.get(), exclude=["id", "device"])
    device = model_to_dict(Device.objects.get(), exclude=["id", "first_seen_at", "last_seen_at"])
    links = SignupAttempt.objects.values(
        "device__visitor_id", "fingerprint_event__event_id", "fingerprint_event__device__visitor_id"
    )
    return {"attempt": attempt, "snapshot": snapshot, "device": device, "links": list(links)}


@pytest.mark.parametrize(
    ("profile", "decision", "accounts"), [("bad_bot", "deny", 0), ("human", "allow", 1)]
)
def test_the_statement_writes_the_orm_paths_rows(sandbox, profile, decision, accounts):
    """A bad bot takes the lock-free path, a human the locked one (which reserves the slot)."""
    event_id = sandbox.create_event(profile=profile, ip="203.0.113.9")["event_id"]
    fetched = services.event_fetch(event_id=event_id)
    with mock.patch.object(evidence, "single_statement_supported", return_value=False):
        orm_attempt = assess(fetched)
    orm_rows = stored_rows()
    SignupAttempt.objects.all().delete()
    FingerprintEvent.objects.all().delete()
    Device.objects.all().delete()

    with mock.patch.object(evidence, "evidence_write", wraps=evidence.evidence_write) as statement:
        attempt = assess(fetched)
    assert statement.call_count == 1
    assert stored_rows() == orm_rows
    assert orm_rows["attempt"]["decision"] == decision
    assert orm_rows["device"]["attempt_count"] == 1
    assert orm_rows["device"]["account_count"] == accounts
    # the returned attempt is the stored one, with its device and snapshot in memory
    assert attempt.pk == SignupAttempt.objects.get().pk
    assert attempt.reference != orm_attempt.reference
    assert attempt.device.visitor_id == fetched.event.visitor_id
    assert attempt.fingerprint_event.pk == FingerprintEvent.objects.get().pk


@pytest.mark.parametrize("profile", ["bad_bot", "human"])
def test_a_claim_lost_after_the_plain_read_keeps_the_evidence_unclaimed(sandbox, profile):
    """Another attempt claims the event between the plain read and the statement: the device
    is counted and the snapshot stored by the statement, and the attempt is then recorded
    without the claim, with `event_reused` among its reasons."""
    event_id = sandbox.create_event(profile=profile, ip="203.0.113.9")["event_id"]
    fetched = services.event_fetch(event_id=event_id)
    real_write = evidence.evidence_write

    def claimed_meanwhile(**kwargs):
        SignupAttempt.objects.create(
            username="first", event_id=event_id, claimed_event_id=event_id, decision="deny"
        )
        return real_write(**kwargs)

    with mock.patch.object(evidence, "evidence_write", side_effect=claimed_meanwhile):
        attempt = assess(fetched, username="second")

    second = SignupAttempt.objects.get(username="second")
    assert attempt.pk == second.pk and second.claimed_event_id is None
    assert "event_reused" in second.reasons
    assert ("bot_bad" in second.reasons) == (profile == "bad_bot")
    assert second.decision == "deny" and second.checks["not_reused"] == "failed"
    assert second.fingerprint_event == FingerprintEvent.objects.get(event_id=event_id)
    assert second.device.attempt_count == 1
    assert second.device.account_count == 0  # denied: no slot reserved
