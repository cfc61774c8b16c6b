"""Hostile or absurd input from the network never becomes a 500 or a wrong record."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from risk.fingerprint.client import FingerprintClient
from risk.fingerprint.drn import parse_drn
from risk.fingerprint.errors import NotFoundError
from risk.fingerprint.events import normalise_event
from risk.models import FingerprintEvent, SignupAttempt
from tests.conftest import SANDBOX_KEY

# The payloads reach the API both through Django's full stack and through the fast path.


class _OneEventHandler(BaseHTTPRequestHandler):
    """Answers every GET with the same event, whatever id was asked for."""

    body = json.dumps({"event_id": "1700000000000.other", "timestamp": 1700000000000}).encode()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_client_refuses_an_event_other_than_the_one_asked_for():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OneEventHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = FingerprintClient(
            api_url=f"http://127.0.0.1:{server.server_port}", secret_key=SANDBOX_KEY
        )
        with pytest.raises(NotFoundError) as info:
            client.get_event("1700000000000.mine00")
        assert info.value.code == "event_mismatch"
    finally:
        server.shutdown()


@pytest.mark.django_db
@pytest.mark.parametrize("event_id", [".", "..", "-x", "_"])
def test_dot_and_punctuation_ids_are_invalid_input(sandbox, event_id):
    # "." would be normalised to /v4/events/ (the search endpoint) in the lookup URL.
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event_id, "username": "dotty", "password": "correct-horse-battery-9"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["event_id"][0]["code"] == "invalid_event_id"
    assert SignupAttempt.objects.count() == 0


@pytest.mark.django_db
def test_overlong_email_is_400_not_a_database_error(sandbox):
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {
            "event_id": event["event_id"],
            "username": "longmail",
            "password": "correct-horse-battery-9",
            "email": "a" * 250 + "@example.com",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["email"][0]["code"] == "max_length"


@pytest.mark.django_db
def test_absurd_numbers_in_an_event_are_kept_raw_not_crashing(sandbox):
    event = sandbox.create_event(
        profile="human", ip="127.0.0.1", overrides={"suspect_score": 10**12}
    )
    response = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "bignum", "password": "correct-horse-9z"},
        format="json",
    )
    assert response.status_code == 201
    snapshot = FingerprintEvent.objects.get()
    assert snapshot.suspect_score == 2**31 - 1 and snapshot.raw["suspect_score"] == 10**12


def test_huge_integers_and_wrong_shapes_parse_to_nothing():
    event = normalise_event({"event_id": "1.a", "timestamp": 10**400, "suspect_score": 10**400})
    assert event.timestamp is None and event.suspect_score is None
    result = parse_drn(
        {"data": {"regionalActivity": {"countries": 5}, "suspectScore": {"maximum": []}}},
        visitor_id="v",
    )
    assert result.countries == () and result.max_score is None


@pytest.mark.django_db
def test_non_ascii_webhook_signature_is_401(settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = "whsec"
    response = APIClient().post(
        "/api/fingerprint/webhook",
        b"{}",
        content_type="application/json",
        HTTP_FPJS_EVENT_SIGNATURE="v1=\u00e9\u00e9",
    )
    assert response.status_code == 401
