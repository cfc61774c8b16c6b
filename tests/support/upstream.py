"""The signup API against a Server API that counts its calls: a stand-in of our own that answers
404 to all, or the sandbox's own request counters."""

import threading
from contextlib import contextmanager
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


@contextmanager
def not_found_server():
    """An HTTP server of our own that records each request's path and answers 404 in
    Fingerprint's shape: a Server API stand-in, or a proxy (which sees absolute URLs). Yields
    its URL and the paths, in order; its own list, unlike the shared sandbox's counters, which
    can move with a late request of an earlier test."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            paths.append(self.path)
            body = b'{"error": {"code": "event_not_found", "message": "not found"}}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", paths
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def counting_api(settings):
    """Settings pointed at a stand-in Server API; the paths it was asked for, in order."""
    with not_found_server() as (url, paths):
        settings.FINGERPRINT_API_URL = url
        settings.FINGERPRINT_SECRET_API_KEY = "counting-key"
        yield paths
