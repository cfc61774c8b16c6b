"""Erasing a person and exporting their data: real signups over the API, the sandbox over HTTP,
and a search of every column of every table afterwards."""

from __future__ import annotations

import io
import json

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.auth import get_user, get_user_model
from django.core.management import call_command
from django.test import RequestFactory
from rest_framework.test import APIClient

from risk.clients import fingerprint_client
from risk.models import (
    Device,
    DeviceStatus,
    DrnSnapshot,
    Erasure,
    FingerprintEvent,
    ReviewDecision,
    SignupAttempt,
)
from risk.services import privacy
from risk.services.webhooks import event_webhook_store
from sandbox.control import SandboxControlError
from tests.support.privacy import (
    ALICE_EMAIL,
    ALICE_IP,
    ALICE_VISITOR,
    BOB_IP,
    MALLORY_IP,
    decision_figures,
    erase,
    every_row,
    holders,
    signup,
)
from tests.support.review import PASSWORD, empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_erasure_leaves_nothing_of_the_person_and_keeps_the_figures(world, sandbox, client):
    client.force_login(User.objects.get(username="alice"))  # she is logged in somewhere
    request = RequestFactory().get("/")
    request.session = client.session
    assert get_user(request).username == "alice"
    before = decision_figures()
    deletes_before = sandbox.stats()["requests"].get("v4_delete_visitor", 0)
    for needle in (ALICE_EMAIL, ALICE_IP, "alice", "alice_two", ALICE_VISITOR):
        assert holders(needle), needle  # the search can see them before

    # Her email names both her accounts (never anything typed into someone's signup).
    output = erase(email=ALICE_EMAIL, reason="GDPR request, ticket 4711", operator="dpo")

    for needle in (ALICE_EMAIL, ALICE_IP, "alice", "alice_two", ALICE_VISITOR):
        assert holders(needle) == set(), needle
    # Raw snapshots: gone from every event of her device (signups and webhook alike).
    device = world["alice"][0].device
    events = FingerprintEvent.objects.filter(device=device)
    assert events.count() == 3 and all(e.raw == {} and e.ip is None for e in events)
    assert not DrnSnapshot.objects.filter(device=device).exists()
    # The device was only hers: Fingerprint was asked to delete the visitor, and did.
    stats = sandbox.stats()
    assert stats["requests"]["v4_delete_visitor"] == deletes_before + 1
    with pytest.raises(SandboxControlError):
        sandbox.get_event(world["alice_event"]["event_id"])
    # A late webhook delivery of one of her events does not bring it back.
    pushed = FingerprintEvent.objects.exclude(event_id__in=[a.event_id for a in world["alice"]])
    pushed = pushed.get(device=device)
    event_webhook_store(body=json.dumps(world["pushed"]).encode())
    assert FingerprintEvent.objects.get(pk=pushed.pk).raw == {}
    assert holders(ALICE_VISITOR) == set()
    # Figures: decisions, reason codes and review states all unchanged.
    assert decision_figures() == before
    assert SignupAttempt.objects.count() == 4
    # Bob is untouched: his row, his snapshot, his note.
    bob = SignupAttempt.objects.get(pk=world["bob"].pk)
    assert (bob.username, bob.email, bob.client_ip) == ("bob", "bob@example.test", BOB_IP)
    assert bob.fingerprint_event.raw["event_id"] == world["bob_event"]["event_id"]
    assert ReviewDecision.objects.get(attempt=bob).note == "bob: approval ok"
    assert AccessAttempt.objects.get().username == "bob"  # only her admin login records went
    # Mallory's refused signup is not hers: it keeps its evidence, only her email goes from it.
    mallory = SignupAttempt.objects.get(username="mal1")
    assert (mallory.email, mallory.client_ip) == ("", MALLORY_IP)
    # The reviewer's note about her keeps its sense, not her identifiers.
    note = ReviewDecision.objects.get(attempt=world["alice"][1]).note
    assert note == "Same person as [erased] ([erased]), from [erased]."
    # Accounts: anonymised, inactive, no usable password; event ids stay claimed.
    for attempt in world["alice"]:
        account = User.objects.get(pk=attempt.account_id)
        assert account.username == f"erased-{account.pk}" and not account.is_active
        assert not account.has_usable_password() and account.email == ""
        erased = SignupAttempt.objects.get(pk=attempt.pk)
        assert erased.claimed_event_id == attempt.event_id
        assert (erased.email, erased.email_domain_rev) == ("", "")  # the domain search too
    # Her session no longer authenticates anyone.
    request.session = client.session
    assert get_user(request).is_anonymous
    # The audit row: who, why, what; it names nobody.
    erasure = Erasure.objects.get()
    assert (erasure.operator, erasure.reason, erasure.matched_by) == (
        "dpo",
        "GDPR request, ticket 4711",
        "email",
    )
    assert sorted(erasure.tables["risk.SignupAttempt"]["ids"]) == [a.pk for a in world["alice"]]
    assert erasure.fingerprint == [{"visitor": 1, "outcome": "deleted", "code": ""}]
    assert f"audit row #{erasure.pk}" in output and "deleted" in output


def test_an_email_typed_into_a_refused_signup_leads_to_nobody(world):
    """Mallory's refused signup, typed with Alice's email: exporting or erasing "mal1" reaches
    Mallory's signup only, never Alice's account, attempts, IP, visitor id or events."""
    out = io.StringIO()
    call_command("erase_person", username="mal1", export=True, stdout=out)
    export = json.loads(out.getvalue())["tables"]
    assert [r["username"] for r in export["risk.SignupAttempt"]] == ["mal1"]
    assert export["accounts.User"] == [] and export["risk.FingerprintEvent"] == []
    text = out.getvalue().lower()
    for needle in (ALICE_IP, ALICE_VISITOR.lower(), '"alice"', "alice_two"):
        assert needle not in text, needle

    erase(username="mal1", reason="ticket 12")
    alice = User.objects.get(username="alice")
    assert alice.is_active and alice.email == ALICE_EMAIL
    assert SignupAttempt.objects.get(account=alice).client_ip == ALICE_IP
    assert holders(ALICE_VISITOR)  # her device and events are untouched
    assert not SignupAttempt.objects.filter(username="mal1").exists()


def test_a_superusers_email_typed_into_a_signup_does_not_erase_the_superuser(world):
    root = User.objects.create_superuser("root", "root@example.test", PASSWORD)
    APIClient(REMOTE_ADDR=MALLORY_IP).post(
        "/api/signup",
        {"event_id": "1700000000000.madeUq", "username": "mal2", "email": "ROOT@example.test",
         "password": PASSWORD},
        format="json",
    )  # fmt: skip
    erase(username="mal2", reason="ticket 13")
    root.refresh_from_db()
    assert root.is_active and root.username == "root" and root.has_usable_password()
    # Named directly, a staff account is left out unless the operator says so.
    out = io.StringIO()
    call_command("erase_person", email="root@example.test", reason="x", stdout=out, stderr=out)
    root.refresh_from_db()
    assert root.is_active and "--include-staff" in out.getvalue()
    erase(email="root@example.test", reason="the admin's own request", include_staff=True)
    root.refresh_from_db()
    assert not root.is_active and root.username == f"erased-{root.pk}"


def test_running_twice_is_harmless(world, sandbox):
    erase(email=ALICE_EMAIL.upper(), reason="ticket 1")
    after_first = every_row()
    output = erase(email=ALICE_EMAIL, reason="ticket 1, again")
    assert "Nothing stored about this person" in output
    after_second = every_row()
    erasure_table = Erasure._meta.db_table
    assert {t: r for t, r in after_second.items() if t != erasure_table} == {
        t: r for t, r in after_first.items() if t != erasure_table
    }
    assert Erasure.objects.count() == 2
    assert Erasure.objects.order_by("pk").last().tables == {}


def test_by_visitor_id_and_a_blocked_device_keeps_its_visitor_id(world, sandbox):
    device = world["alice"][0].device
    Device.objects.filter(pk=device.pk).update(status=DeviceStatus.BLOCKED)
    deletes_before = sandbox.stats()["requests"].get("v4_delete_visitor", 0)
    erase(email=ALICE_EMAIL, visitor_id=ALICE_VISITOR, reason="ticket 9")
    device.refresh_from_db()
    assert device.visitor_id == ALICE_VISITOR and device.status == DeviceStatus.BLOCKED
    # Still erased: her names, email, IP, snapshots; the block works on.
    for needle in (ALICE_EMAIL, ALICE_IP, "alice_two"):
        assert holders(needle) == set(), needle
    assert holders(ALICE_VISITOR) == {Device._meta.db_table}
    # Fingerprint's copy is what re-identifies the device: it is not asked to delete it.
    assert sandbox.stats()["requests"].get("v4_delete_visitor", 0) == deletes_before
    assert Erasure.objects.get().fingerprint == [{"visitor": None, "outcome": "kept_blocked"}]
    # The block still works: a new signup from the device is refused.
    again, _ = signup(sandbox, username="carol", email="", ip="192.0.2.9", visitor_id=ALICE_VISITOR)
    assert again.decision == "deny" and "device_blocked" in again.reasons


@pytest.mark.parametrize(
    ("faults", "outcome", "code"),
    [
        ({"target": "events", "status": 503}, "failed", "service_unavailable"),
        ({"visitor_delete": False}, "feature_not_enabled", "feature_not_enabled"),
    ],
)
def test_fingerprint_trouble_never_fails_the_erasure(world, sandbox, faults, outcome, code):
    sandbox.set_faults(**faults)
    erase(email=ALICE_EMAIL, reason="ticket 5")
    assert holders(ALICE_EMAIL) == set()
    assert Erasure.objects.get().fingerprint == [{"visitor": 1, "outcome": outcome, "code": code}]


def test_visitor_unknown_to_fingerprint_is_recorded(world, sandbox):
    fingerprint_client().delete_visitor(ALICE_VISITOR)  # Fingerprint has nothing on her now
    erase(email=ALICE_EMAIL, reason="ticket 6")
    assert Erasure.objects.get().fingerprint == [
        {"visitor": 1, "outcome": "not_found", "code": "visitor_not_found"}
    ]


def test_export_holds_everything_stored_about_the_person(world):
    out = io.StringIO()
    call_command("erase_person", email=ALICE_EMAIL, export=True, stdout=out)
    export = json.loads(out.getvalue())
    tables = export["tables"]
    exported = {(label, row["id"]) for label, rows in tables.items() for row in rows}
    # Every row anywhere that mentions her (by any of her identifiers) is in the export, but
    # for Mallory's signup, typed with her email: not hers to see.
    needles = [ALICE_EMAIL.lower(), ALICE_IP, "alice", ALICE_VISITOR.lower()]
    mallory = SignupAttempt.objects.get(username="mal1")
    for model in apps.get_models():
        for row in model.objects.values():
            text = repr(row).lower()
            if any(n.lower() in text for n in needles):
                if (model, row["id"]) == (SignupAttempt, mallory.pk):
                    assert (model._meta.label, row["id"]) not in exported
                    continue
                assert (model._meta.label, row["id"]) in exported, (model._meta.label, row)
    # ... and in full: every stored field except the password hash.
    assert sorted(r["id"] for r in tables["accounts.User"]) == [
        a.account_id for a in world["alice"]
    ]
    assert all("password" not in r for r in tables["accounts.User"])
    events = {r["event_id"]: r for r in tables["risk.FingerprintEvent"]}
    assert len(events) == 3
    stored = FingerprintEvent.objects.get(event_id=world["alice_event"]["event_id"])
    assert events[stored.event_id]["raw"] == stored.raw
    attempt = next(r for r in tables["risk.SignupAttempt"] if r["username"] == "alice")
    assert attempt["client_ip"] == ALICE_IP and attempt["email"] == ALICE_EMAIL
    assert tables["risk.DrnSnapshot"][0]["countries"] == [{"code": "GB", "ip": 1.0}]
    assert [r["note"] for r in tables["risk.ReviewDecision"]] == [
        f"Same person as alice ({ALICE_EMAIL}), from {ALICE_IP}."
    ]
    assert [r["object_repr"] for r in tables["admin.LogEntry"]] == ["alice"]
    assert [(r["username"], r["ip_address"]) for r in tables["axes.AccessAttempt"]] == [
        ("alice", ALICE_IP)
    ]
    assert "bob" not in out.getvalue() and MALLORY_IP not in out.getvalue()  # nobody else's
    assert not Erasure.objects.exists()  # an export changes nothing


def test_identifiers_match_whole_words_only():
    subject = privacy.Subject(usernames={"al"}, emails={"al@example.test"})
    assert subject.mentioned_in("al asked") and subject.mentioned_in("mail al@example.test")
    assert not subject.mentioned_in("approval by sally")
    assert subject.pattern.sub("[erased]", "al: al@example.test") == "[erased]: [erased]"


def test_erasure_on_a_shared_device_leaves_other_peoples_evidence_and_the_limit(sandbox):
    """Carol and Dave sign up from one family PC; Dave's account waits for a reviewer. Erasing
    Carol removes the visitor id everywhere, leaves Dave's evidence as it was, and the device's
    next signup still counts the two accounts it already has."""
    visitor = "vsSharedPC0000000001"
    carol, _ = signup(
        sandbox, username="carol", email="carol@example.test", ip=ALICE_IP, visitor_id=visitor
    )
    dave, dave_event = signup(
        sandbox, username="dave", email="dave@example.test", ip=ALICE_IP, visitor_id=visitor
    )
    assert carol.decision == "allow" and dave.review_status == "pending"
    drn = DrnSnapshot.objects.create(device=dave.device, visitor_id=visitor, status="ok")
    SignupAttempt.objects.filter(pk=dave.pk).update(drn_snapshot=drn)
    deletes_before = sandbox.stats()["requests"].get("v4_delete_visitor", 0)

    erase(username="carol", reason="ticket 21")

    assert holders(visitor) == set()
    assert holders("carol@example.test") == set()
    dave = SignupAttempt.objects.get(pk=dave.pk)
    assert (dave.username, dave.email, dave.client_ip) == ("dave", "dave@example.test", ALICE_IP)
    assert dave.review_status == "pending" and dave.drn_snapshot_id == drn.pk
    raw = dave.fingerprint_event.raw
    assert raw["event_id"] == dave_event["event_id"] and raw["ip_address"] == ALICE_IP
    assert raw["identification"]["visitor_id"] == "[erased]"  # only the identifier went
    assert SignupAttempt.objects.get(pk=carol.pk).fingerprint_event.raw == {}
    # The device is not only hers: Fingerprint's copy is Dave's evidence too.
    assert sandbox.stats()["requests"].get("v4_delete_visitor", 0) == deletes_before
    # The device still counts its two accounts: erasure is no way around the limit.
    device = Device.objects.get(pk=dave.device_id)
    assert device.account_count == 2 and not device.visitor_id.startswith(visitor)
    again, _ = signup(sandbox, username="erin", email="", ip=ALICE_IP, visitor_id=visitor)
    assert again.device_id == device.pk and again.facts["device_accounts"] == 2
    assert again.decision != "allow"
