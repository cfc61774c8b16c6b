"""Sealed client results: opened locally (no Server API round trip), forged blobs refused."""

import base64
import os

import pytest

from risk.models import SignupAttempt
from sandbox.sealed import seal
from tests.support.sealed import signup

pytestmark = pytest.mark.django_db
KEY = os.urandom(32)
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def sealed_keys(settings):
    settings.FINGERPRINT_SEALED_KEYS = [base64.b64encode(os.urandom(32)).decode(),
                                        base64.b64encode(KEY).decode()]  # fmt: skip


def api_calls(sandbox) -> int:
    return sandbox.stats()["requests"].get("v4_get_event", 0)


def test_sealed_result_skips_the_api_round_trip(sandbox, sealed_keys):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    before = api_calls(sandbox)
    response = signup(event["event_id"], seal(event, KEY))
    assert response.status_code == 201 and response.json()["status"] == "created"
    assert api_calls(sandbox) == before
    assert SignupAttempt.objects.get().fingerprint_event.raw == event


def test_sealed_bad_bot_is_denied_locally(sandbox, sealed_keys):
    event = sandbox.create_event(profile="bad_bot", ip="127.0.0.1")
    assert signup(event["event_id"], seal(event, KEY)).status_code == 403
    assert "bot_bad" in SignupAttempt.objects.get().reasons


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(lambda event: seal(event, os.urandom(32)), id="unknown-key"),
        pytest.param(lambda event: "bm90IHNlYWxlZA==", id="not-sealed"),
        pytest.param(lambda event: seal({**event, "event_id": "1.other"}, KEY), id="other-event"),
    ],
)
def test_unopenable_or_mismatched_blob_is_refused(sandbox, sealed_keys, blob):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = signup(event["event_id"], blob(event))
    assert response.status_code == 403
    attempt = SignupAttempt.objects.get()
    assert attempt.reasons == ["event_not_found"] and "sealed result" in attempt.fingerprint_error


def test_without_keys_the_blob_is_ignored_and_the_api_is_asked(sandbox, settings):
    settings.FINGERPRINT_SEALED_KEYS = []
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    before = api_calls(sandbox)
    assert signup(event["event_id"], "garbage").status_code == 201
    assert api_calls(sandbox) == before + 1
