"""The snapshot a decision used is never overwritten: webhooks and backfills keep later copies
beside it, and rescore judges the original."""

import copy
import io
import json

import pytest
import requests
from django.core.management import call_command
from rest_framework.test import APIClient

from risk.models import FingerprintEventVersion, Reassessment, SignupAttempt
from tests.conftest import SANDBOX_KEY
from tests.support.webhooks import SECRET, post, sign

pytestmark = pytest.mark.django_db


def signup(sandbox, username: str) -> SignupAttempt:
    event = sandbox.create_event(ip="127.0.0.1")
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": username, "password": "x-Pass-word-9"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return SignupAttempt.objects.select_related("fingerprint_event").get(username=username)


def test_webhook_copy_is_kept_beside_the_evidence_and_rescore_uses_the_original(sandbox, settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = SECRET
    attempt = signup(sandbox, "alice")
    assert attempt.decision == "allow"
    snapshot = attempt.fingerprint_event
    original = copy.deepcopy(snapshot.raw)
    later = copy.deepcopy(original)
    later["bot"] = "bad"  # the later copy would refuse the signup
    later["tags"] = {"resent": True}
    body = json.dumps(later).encode()

    for _ in range(2):  # a redelivery adds nothing
        assert post(body, sign(body)).status_code == 200
    snapshot.refresh_from_db()
    assert snapshot.raw == original and snapshot.bot != "bad"
    version = snapshot.later_versions.get()
    assert version.raw == later and version.source == "webhook"

    call_command("rescore", since="1h", run_id="evidence", no_progress=True, stdout=io.StringIO())
    assert Reassessment.objects.get(attempt=attempt).decision == "allow"


def test_backfill_keeps_a_changed_copy_once_and_an_unchanged_one_not_at_all(sandbox):
    attempt = signup(sandbox, "bob")
    snapshot = attempt.fingerprint_event
    original = copy.deepcopy(snapshot.raw)
    window = {"since": "10m", "visitor": snapshot.visitor_id, "rps": 0, "no_progress": True}

    call_command("backfill_events", stdout=io.StringIO(), **window)
    assert not FingerprintEventVersion.objects.exists()  # same copy as the evidence

    patched = requests.patch(
        f"{settings_url(sandbox)}/v4/events/{snapshot.event_id}",
        json={"tags": {"reviewed": "yes"}},
        headers={"Authorization": f"Bearer {SANDBOX_KEY}"},
        timeout=10,
    )
    assert patched.status_code == 200
    for _ in range(2):  # the second pull finds the same copy: nothing new
        call_command("backfill_events", stdout=io.StringIO(), restart=True, **window)
    snapshot.refresh_from_db()
    assert snapshot.raw == original
    version = snapshot.later_versions.get()
    assert version.source == "backfill" and version.raw["tags"] == {"reviewed": "yes"}


def settings_url(sandbox) -> str:
    return sandbox.base_url
