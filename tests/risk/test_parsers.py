"""risk/parsers.py: the signup body is capped (an anonymous endpoint), refused before it is read."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from risk.models import SignupAttempt
from risk.parsers import SIGNUP_MAX_BODY_BYTES
from tests.support.webhooks import raw_request

pytestmark = pytest.mark.django_db


PASSWORD = "correct-horse-battery-9"


class _CountingHandler(BaseHTTPRequestHandler):
    """A Server API stand-in of our own: counts requests (the shared sandbox's counters can
    move with a late request of an earlier test), answers 404 to all."""

    paths: list[str] = []

    def do_GET(self):
        self.paths.append(self.path)
        body = b'{"error": {"code": "event_not_found", "message": "not found"}}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def counting_api(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FINGERPRINT_API_URL = f"http://127.0.0.1:{server.server_port}"
    settings.FINGERPRINT_SECRET_API_KEY = "counting-key"
    _CountingHandler.paths = []
    yield _CountingHandler.paths
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
def test_announced_oversize_signup_is_413_without_being_read(live_server):
    head = (
        "POST /api/signup HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    )
    answer = raw_request(live_server.url, head)  # no body sent: an answer means none was read
    assert answer.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 413"), answer[:200]
    assert SignupAttempt.objects.count() == 0


def test_oversize_signup_body_is_413_and_writes_nothing(counting_api):
    body = {
        "event_id": "1700000000000.abcdef",
        "username": "bulky",
        "password": PASSWORD,
        "email": "",
        "sealed_result": "A" * (SIGNUP_MAX_BODY_BYTES + 1),
    }
    response = APIClient(REMOTE_ADDR="127.0.0.1").post("/api/signup", body, format="json")
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert SignupAttempt.objects.count() == 0 and counting_api == []
