"""The signup API against a Server API that counts its calls: a stand-in of our own that answers
404 to all, or the sandbox's own request counters."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from tests.support.review import PASSWORD


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
    """Settings pointed at the stand-in; the paths it was asked for, in order."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FINGERPRINT_API_URL = f"http://127.0.0.1:{server.server_port}"
    settings.FINGERPRINT_SECRET_API_KEY = "counting-key"
    _CountingHandler.paths = []
    yield _CountingHandler.paths
    server.shutdown()
    server.server_close()
