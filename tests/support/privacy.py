"""A small world of people who signed up through the real API (the sandbox over HTTP), and a search
of every column of every table, for the erasure and export tests."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from risk.models import (
    DrnSnapshot,
    ReviewAction,
    ReviewDecision,
    SignupAttempt,
)
from risk.services.webhooks import event_webhook_store
from tests.support.review import PASSWORD, empty_cache, make_reviewer  # noqa: F401

User = get_user_model()


ALICE_IP = "203.0.113.77"


ALICE_EMAIL = "Alice.Liddell@example.test"


ALICE_VISITOR = "vsPersonA00000000001"


BOB_IP = "198.51.100.5"


BOB_VISITOR = "vsPersonB00000000001"


MALLORY_IP = "192.0.2.66"


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
    """Alice: two accounts with her email on one device (the second held for review), a webhook
    event, a DRN answer, reviewers' notes, an admin log entry about her, and the staff login
    lockout's records of her trying the admin login. Bob: an unrelated person, who tried it too.
    Mallory: a refused signup with a made-up event id, typed with Alice's email."""
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
    assert second.decision == "review" and second.reasons == ["device_shared"]
    mallory = APIClient(REMOTE_ADDR=MALLORY_IP).post(
        "/api/signup",
        {
            "event_id": "1700000000000.madeUp",
            "username": "mal1",
            "email": ALICE_EMAIL.upper(),
            "password": PASSWORD,
        },
        format="json",
    )
    assert mallory.status_code == 403
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
