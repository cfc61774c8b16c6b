"""Erasing a person and exporting their data: real signups over the API, the sandbox over HTTP,
and a search of every column of every table afterwards."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user, get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from risk.clients import fingerprint_client
from risk.models import (
    Device,
    DeviceStatus,
    DrnSnapshot,
    Erasure,
    FingerprintEvent,
    ReviewAction,
    ReviewDecision,
    SignupAttempt,
)
from risk.services import privacy
from risk.services.webhooks import event_webhook_store
from sandbox.control import SandboxControlError
from tests.risk.review_helpers import PASSWORD, empty_cache, make_reviewer  # noqa: F401

pytestmark = pytest.mark.django_db
User = get_user_model()

ALICE_IP = "203.0.113.77"
ALICE_EMAIL = "Alice.Liddell@example.test"
ALICE_VISITOR = "vsPersonA00000000001"
BOB_IP = "198.51.100.5"
BOB_VISITOR = "vsPersonB00000000001"


def signup(sandbox, *, username, email, ip, visitor_id):
    event = sandbox.create_event(profile="human", ip=ip, visitor_id=visitor_id)
    response = APIClient(REMOTE_ADDR=ip).post(
        "/api/signup",
        {"event_id": event["event_id"], "username": username, "email": email, "password": PASSWORD},
        format="json",
    )
    assert response.status_code in (201, 403), response.content
    return SignupAttempt.objects.get(reference=response.json()["reference"]), event


@pytest.fixture
def world(sandbox, settings):
    """Alice: an account, a second (denied) attempt from the same device, a webhook event, a
    DRN answer, reviewers' notes, an admin log entry about her, and the staff login lockout's
    records of her trying the admin login. Bob: an unrelated person, who tried it too."""
    settings.RISK_DEVICE_LIMIT_STRICT = True  # the second attempt is denied, as the seed would
    reviewer = make_reviewer()
    first, first_event = signup(
        sandbox, username="alice", email=ALICE_EMAIL, ip=ALICE_IP, visitor_id=ALICE_VISITOR
    )
    second, _ = signup(
        sandbox, username="alice_two", email=ALICE_EMAIL, ip=ALICE_IP, visitor_id=ALICE_VISITOR
    )
    bob, bob_event = signup(
        sandbox, username="bob", email="bob@example.test", ip=BOB_IP, visitor_id=BOB_VISITOR
    )
    assert first.decision == "allow" and bob.decision == "allow"
    assert second.decision == "deny" and second.reasons == ["device_limit"]
    # An event Fingerprint pushed to our webhook (never used for a signup).
    pushed = sandbox.create_event(profile="human", ip=ALICE_IP, visitor_id=ALICE_VISITOR)
    event_webhook_store(body=json.dumps(pushed).encode())
    DrnSnapshot.objects.create(
        device=first.device,
        visitor_id=ALICE_VISITOR,
        status="ok",
        raw={"data": {"regionalActivity": {"ip": [{"code": "GB", "share": 1.0}]}}},
        countries=[{"code": "GB", "ip": 1.0}],
    )
    ReviewDecision.objects.create(
        actor=reviewer,
        action=ReviewAction.REJECT,
        reason="multi_accounting",
        note=f"Same person as alice ({ALICE_EMAIL}), from {ALICE_IP}.",
        attempt=second,
    )
    ReviewDecision.objects.create(
        actor=reviewer,
        action=ReviewAction.APPROVE,
        reason="legitimate_user",
        note="bob: approval ok",
        attempt=bob,
    )
    LogEntry.objects.create(
        user=reviewer,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(first.account_id),
        object_repr="alice",
        action_flag=CHANGE,
        change_message="[]",
    )
    # django-axes records failed admin logins: the username typed, the IP, the user agent.
    for who, ip in (("alice", ALICE_IP), ("bob", BOB_IP)):
        failed = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=f"{who}-browser").post(
            "/admin/login/", {"username": who, "password": "not-it", "next": "/admin/"}
        )
        assert failed.status_code == 200  # the form again, with an error
    return {
        "pushed": pushed,
        "alice": [first, second],
        "alice_event": first_event,
        "bob": bob,
        "bob_event": bob_event,
    }


def every_row() -> dict[str, list[str]]:
    """Every row of every table in the database, as text (columns of any type)."""
    dump = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump[table] = [repr(row) for row in cursor.fetchall()]
    return dump


def holders(needle: str) -> set[str]:
    needle = needle.lower()
    return {t for t, rows in every_row().items() if any(needle in r.lower() for r in rows)}


def decision_figures() -> Counter:
    rows = SignupAttempt.objects.values_list("decision", "reasons", "review_status")
    return Counter((d, tuple(r), s) for d, r, s in rows)


def erase(**options) -> str:
    out = io.StringIO()
    call_command("erase_person", stdout=out, **options)
    return out.getvalue()


def test_erasure_leaves_nothing_of_the_person_and_keeps_the_figures(world, sandbox, client):
    client.force_login(User.objects.get(username="alice"))  # she is logged in somewhere
    request = RequestFactory().get("/")
    request.session = client.session
    assert get_user(request).username == "alice"
    before = decision_figures()
    deletes_before = sandbox.stats()["requests"].get("v4_delete_visitor", 0)
    for needle in (ALICE_EMAIL, ALICE_IP, "alice", "alice_two", ALICE_VISITOR):
        assert holders(needle), needle  # the search can see them before

    output = erase(username="alice", reason="GDPR request, ticket 4711", operator="dpo")

    for needle in (ALICE_EMAIL, ALICE_IP, "alice", "alice_two", ALICE_VISITOR):
        assert holders(needle) == set(), needle
    # Raw snapshots: gone from every event of her device (signups and webhook alike).
    events = FingerprintEvent.objects.filter(device=world["alice"][0].device)
    assert events.count() == 3 and all(e.raw == {} and e.ip is None for e in events)
    assert not DrnSnapshot.objects.filter(device=world["alice"][0].device).exists()
    # Fingerprint was asked to delete the visitor, and did.
    stats = sandbox.stats()
    assert stats["requests"]["v4_delete_visitor"] == deletes_before + 1
    with pytest.raises(SandboxControlError):
        sandbox.get_event(world["alice_event"]["event_id"])
    # A late webhook delivery of one of her events does not bring it back.
    pushed = FingerprintEvent.objects.exclude(event_id__in=[a.event_id for a in world["alice"]])
    pushed = pushed.get(device=world["alice"][0].device)
    event_webhook_store(body=json.dumps(world["pushed"]).encode())
    assert FingerprintEvent.objects.get(pk=pushed.pk).raw == {}
    assert holders(ALICE_VISITOR) == set()
    # Figures: decisions, reason codes and review states all unchanged.
    assert decision_figures() == before
    assert SignupAttempt.objects.count() == 3
    # Bob is untouched: his row, his snapshot, his note.
    bob = SignupAttempt.objects.get(pk=world["bob"].pk)
    assert (bob.username, bob.email, bob.client_ip) == ("bob", "bob@example.test", BOB_IP)
    assert bob.fingerprint_event.raw["event_id"] == world["bob_event"]["event_id"]
    assert ReviewDecision.objects.get(attempt=bob).note == "bob: approval ok"
    assert AccessAttempt.objects.get().username == "bob"  # only her admin login records went
    # The reviewer's note about her keeps its sense, not her identifiers.
    note = ReviewDecision.objects.get(attempt=world["alice"][1]).note
    assert note == "Same person as [erased] ([erased]), from [erased]."
    # Accounts: anonymised, inactive, no usable password; event ids stay claimed.
    account = User.objects.get(pk=world["alice"][0].account_id)
    assert account.username == f"erased-{account.pk}" and not account.is_active
    assert not account.has_usable_password() and account.email == ""
    for attempt in world["alice"]:
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
        "username",
    )
    assert sorted(erasure.tables["risk.SignupAttempt"]["ids"]) == [a.pk for a in world["alice"]]
    assert erasure.fingerprint == [{"visitor": 1, "outcome": "deleted", "code": ""}]
    assert f"audit row #{erasure.pk}" in output and "deleted" in output


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
    erase(visitor_id=ALICE_VISITOR, reason="ticket 9")
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
    erase(username="alice", reason="ticket 5")
    assert holders(ALICE_EMAIL) == set()
    assert Erasure.objects.get().fingerprint == [{"visitor": 1, "outcome": outcome, "code": code}]


def test_visitor_unknown_to_fingerprint_is_recorded(world, sandbox):
    fingerprint_client().delete_visitor(ALICE_VISITOR)  # Fingerprint has nothing on her now
    erase(username="alice", reason="ticket 6")
    assert Erasure.objects.get().fingerprint == [
        {"visitor": 1, "outcome": "not_found", "code": "visitor_not_found"}
    ]


def test_bad_input_is_refused_and_changes_nothing(world):
    before = every_row()
    with pytest.raises(CommandError, match="no_identifier"):
        erase(reason="x")
    with pytest.raises(CommandError, match="reason_required"):
        erase(username="alice")
    assert every_row() == before


def test_export_holds_everything_stored_about_the_person(world):
    out = io.StringIO()
    call_command("erase_person", email=ALICE_EMAIL, export=True, stdout=out)
    export = json.loads(out.getvalue())
    tables = export["tables"]
    exported = {(label, row["id"]) for label, rows in tables.items() for row in rows}
    # Every row anywhere that mentions her (by any of her identifiers) is in the export.
    needles = [ALICE_EMAIL.lower(), ALICE_IP, "alice", ALICE_VISITOR.lower()]
    for model in apps.get_models():
        for row in model.objects.values():
            text = repr(row).lower()
            if any(n.lower() in text for n in needles):
                assert (model._meta.label, row["id"]) in exported, (model._meta.label, row)
    # ... and in full: every stored field except the password hash.
    assert [r["id"] for r in tables["accounts.User"]] == [world["alice"][0].account_id]
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
    assert "bob" not in out.getvalue()  # nobody else's data
    assert not Erasure.objects.exists()  # an export changes nothing


def test_identifiers_match_whole_words_only():
    subject = privacy.Subject(usernames={"al"}, emails={"al@example.test"})
    assert subject.mentioned_in("al asked") and subject.mentioned_in("mail al@example.test")
    assert not subject.mentioned_in("approval by sally")
    assert subject.pattern.sub("[erased]", "al: al@example.test") == "[erased]: [erased]"


def test_admin_action_is_for_superusers_only(world, client, sandbox):
    url = "/admin/risk/signupattempt/?status=all"
    client.force_login(User.objects.get(username="reviewer"))
    assert "erase_people" not in client.get(url).content.decode()
    admin = User.objects.create_superuser("root", "root@example.test", PASSWORD)
    client.force_login(admin)
    assert "erase_people" in client.get(url).content.decode()
    # Both of Alice's attempts selected: one person, one erasure.
    selected = [a.pk for a in world["alice"]]
    data = {"action": "erase_people", "_selected_action": selected, "note": ""}
    client.post(url, data)
    assert not Erasure.objects.exists()  # no reason, no erasure
    data["note"] = "GDPR request 77"
    response = client.post(url, data, follow=True)
    assert "1 person(s) erased." in response.content.decode()
    assert "1 attempt(s) skipped [already_erased]." in response.content.decode()
    erasure = Erasure.objects.get()
    assert erasure.actor == admin and erasure.reason == "GDPR request 77"
    assert client.get("/admin/risk/erasure/").status_code == 200
    client.force_login(User.objects.get(username="reviewer"))
    assert client.get("/admin/risk/erasure/").status_code == 403
    for needle in (ALICE_EMAIL, ALICE_IP, "alice_two"):
        assert holders(needle) == set(), needle
