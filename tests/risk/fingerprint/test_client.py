"""The Server API client over real HTTP against the sandbox: shapes, errors, retries, budget."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from risk.fingerprint.client import FingerprintClient
from risk.fingerprint.errors import AuthError, NotFoundError, RateLimitedError, UnavailableError
from tests.conftest import SANDBOX_KEY


def make_client(url, **kwargs):
    kwargs.setdefault("secret_key", SANDBOX_KEY)
    kwargs.setdefault("timeout_s", 1.0)
    return FingerprintClient(api_url=url, **kwargs)


@pytest.mark.parametrize("version", ["v4", "v3"])
def test_get_event_in_both_api_versions(sandbox, sandbox_server, version):
    created = sandbox.create_event(profile="vpn")
    event = make_client(sandbox_server.url, api_version=version).get_event(created["event_id"])
    assert event.api_version == version
    assert event.event_id == created["event_id"]
    assert event.visitor_id == created["identification"]["visitor_id"]
    assert event.ip == created["ip_address"]
    assert event.vpn is True
    assert event.suspect_score == created["suspect_score"]
    assert event.bot == "not_detected"


def test_unknown_event_is_not_found(sandbox, sandbox_server):
    with pytest.raises(NotFoundError) as info:
        make_client(sandbox_server.url).get_event("1700000000000.nope00")
    assert info.value.status == 404 and info.value.code == "event_not_found"


@pytest.mark.parametrize("version", ["v4", "v3"])
def test_wrong_key_is_an_auth_error(sandbox, sandbox_server, version):
    created = sandbox.create_event()
    client = make_client(sandbox_server.url, secret_key="wrong-key", api_version=version)
    with pytest.raises(AuthError) as info:
        client.get_event(created["event_id"])
    assert info.value.status == 403
    assert "wrong-key" not in str(info.value)


def test_transient_500_is_retried(sandbox, sandbox_server):
    created = sandbox.create_event()
    sandbox.set_faults(target="events", status=500, count=1)
    before = sandbox.stats()
    event = make_client(sandbox_server.url).get_event(created["event_id"])
    assert event.event_id == created["event_id"]
    after = sandbox.stats()
    calls = after["requests"]["v4_get_event"] - before["requests"].get("v4_get_event", 0)
    assert calls == 2  # one failure, one success


def test_persistent_429_gives_up_within_budget(sandbox, sandbox_server):
    created = sandbox.create_event()
    sandbox.set_faults(target="events", status=429)
    client = make_client(sandbox_server.url, timeout_s=1.0, max_retries=3)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        client.get_event(created["event_id"])
    assert time.monotonic() - started < 1.2
    assert info.value.code == "too_many_requests"


def test_persistent_503_is_unavailable(sandbox, sandbox_server):
    created = sandbox.create_event()
    sandbox.set_faults(target="events", status=503)
    with pytest.raises(UnavailableError) as info:
        make_client(sandbox_server.url, max_retries=1).get_event(created["event_id"])
    assert info.value.status == 503


def test_slow_fingerprint_times_out_within_budget(sandbox, sandbox_server):
    created = sandbox.create_event()
    sandbox.set_faults(target="events", latency_ms=1500)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as info:
        make_client(sandbox_server.url, timeout_s=0.3).get_event(created["event_id"])
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 0.8
    assert info.value.code == "timeout"


def test_connection_refused_is_unavailable():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(f"http://127.0.0.1:{port}", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(UnavailableError):
        client.get_event("1.abc")
    assert time.monotonic() - started < 0.8


def test_search_follows_pagination(sandbox, sandbox_server):
    visitor = sandbox.create_event()["identification"]["visitor_id"]
    for _ in range(4):
        sandbox.create_event(visitor_id=visitor)
    client = make_client(sandbox_server.url)
    seen, key = [], None
    while True:
        page = client.search_events(limit=2, visitor_id=visitor, pagination_key=key)
        seen += [event.event_id for event in page.events]
        key = page.pagination_key
        if not key:
            break
    assert len(seen) == 5 and len(set(seen)) == 5


def test_update_event(sandbox, sandbox_server):
    created = sandbox.create_event()
    make_client(sandbox_server.url).update_event(created["event_id"], linked_id="user-42")
    assert sandbox.get_event(created["event_id"])["linked_id"] == "user-42"


def test_repr_hides_the_key(sandbox_server):
    client = make_client(sandbox_server.url, secret_key="super-secret-value")
    assert "super-secret-value" not in repr(client)


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
