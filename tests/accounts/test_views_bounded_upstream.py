"""POST /api/signup uses Fingerprint sparingly: a malformed id is refused before any Server API
call, a well-formed made-up one costs exactly one. The Server API is a counting stand-in or the
sandbox over real HTTP."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from risk.models import SignupAttempt

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def post(event_id, username="bounded", path="/api/signup", field="event_id"):
    return APIClient(REMOTE_ADDR="127.0.0.1").post(
        path, {field: event_id, "username": username, "password": PASSWORD}, format="json"
    )


def event_calls(control) -> int:
    return control.stats()["requests"].get("v4_get_event", 0)


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


@pytest.mark.parametrize(
    "event_id",
    [
        "forged",
        "1.a",
        "1700000000000",  # no random part
        "1700000000000.",
        "1700000000000.abc/ef",
        "1700000000000.abcdef.x",
        "../../v4/events",
        "a" * 64,
        "Px6VxbRC6WBkA39yeNH",  # 19: one short of the 20-character form
        "1700000000000.abcdéf",
    ],
)
@pytest.mark.parametrize(
    ("path", "field"), [("/api/signup", "event_id"), ("/api/create-account", "requestId")]
)
def test_malformed_event_id_is_400_before_any_upstream_call(counting_api, event_id, path, field):
    response = post(event_id, path=path, field=field)
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["code"] == "invalid_event_id"
    assert counting_api == []
    assert SignupAttempt.objects.count() == 0


def test_a_well_formed_made_up_id_costs_exactly_one_call(counting_api):
    response = post("1700000000000.madeUp")
    assert response.status_code == 403
    assert counting_api == ["/v4/events/1700000000000.madeUp"]
    assert SignupAttempt.objects.get().reasons == ["event_not_found"]


# --- item 2: the username check uses the Lower(username) index ---------------------------------


# --- the signup body is capped too (an anonymous endpoint) ------------------------------------
