"""sandbox/server.py: the HTTP server: keep-alive, chunked bodies, a body cap, stopping cleanly
with connections still open."""

from __future__ import annotations

import http.client
import os
import socket
import threading

import pytest
import requests

from sandbox import server as server_module
from sandbox.server import SandboxServer

AUTH = {"Authorization": "Bearer sandbox-secret-key"}


def test_one_keep_alive_connection_serves_many_requests_and_head_has_no_body():
    with SandboxServer() as sandbox:
        connection = http.client.HTTPConnection(sandbox.host, sandbox.port, timeout=5)
        for _ in range(3):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            assert response.status == 200 and response.read() == b'{"status":"ok"}'
            assert response.getheader("Server") == "fingerprint-sandbox"
        connection.request("HEAD", "/healthz")  # a GET-only route: 405, headers only
        head = connection.getresponse()
        assert head.status == 405 and head.read() == b""
        assert int(head.getheader("Content-Length")) > 0
        connection.request("GET", "/healthz")  # and the connection is still good
        assert connection.getresponse().status == 200
        connection.close()


def test_a_chunked_body_is_read_whole():
    with SandboxServer() as sandbox:
        parts = iter([b'{"profile": ', b'"tor"}'])
        response = requests.post(
            f"{sandbox.url}/_sandbox/events",
            data=parts,  # a generator: requests sends it chunked
            headers={"Content-Type": "application/json"},
            timeout=5,
        )
        assert response.status_code == 201 and response.json()["ip_info"]


def test_a_body_over_the_cap_is_413(monkeypatch):
    monkeypatch.setattr(server_module, "MAX_BODY", 100)
    with SandboxServer() as sandbox:
        response = requests.post(f"{sandbox.url}/_sandbox/events", data=b"x" * 101, timeout=5)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"


def test_stop_ends_serving_even_with_an_idle_keep_alive_connection_open():
    sandbox = SandboxServer().start()
    idle = socket.create_connection((sandbox.host, sandbox.port), timeout=5)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in idle.recv(4096)
    sandbox.stop()
    sandbox.stop()  # twice is harmless
    assert idle.recv(4096) == b""  # the server closed it
    idle.close()
    with pytest.raises(OSError):
        socket.create_connection((sandbox.host, sandbox.port), timeout=1)


def test_serve_forever_blocks_until_stopped_from_another_thread():
    sandbox = SandboxServer()
    thread = threading.Thread(target=sandbox.serve_forever)
    thread.start()
    try:
        assert requests.get(f"{sandbox.url}/healthz", timeout=5).status_code == 200
    finally:
        sandbox.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_keys_and_sealing_come_from_the_environment_when_not_given(monkeypatch):
    key = "p2zRUdNqOK3hb+hsmUqgYeyu0PXz5jZ+0XzW5c+0ZfY="
    monkeypatch.setenv("SANDBOX_TRUST_XFF", "1")
    monkeypatch.setenv("SANDBOX_SEALED_KEY", key)
    with SandboxServer(secret_keys=["mine"]) as sandbox:
        assert sandbox.app.trust_xff and sandbox.app.sealed_key is not None
        event = requests.post(f"{sandbox.url}/_sandbox/events", json={}, timeout=5).json()
        path = f"{sandbox.url}/v4/events/{event['event_id']}"
        assert requests.get(path, headers=AUTH, timeout=5).status_code == 403
        mine = requests.get(path, headers={"Authorization": "Bearer mine"}, timeout=5)
        assert mine.status_code == 200 and mine.json() == event


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6 here")
def test_an_ipv6_address_is_bracketed_in_the_url():
    try:
        sandbox = SandboxServer(host="::1").start()
    except OSError:
        pytest.skip("::1 is not configured here")
    try:
        assert sandbox.url == f"http://[::1]:{sandbox.port}"
        assert requests.get(f"{sandbox.url}/healthz", timeout=5).status_code == 200
    finally:
        sandbox.stop()


def test_no_environment_means_no_trust_and_no_sealing(monkeypatch):
    for name in ("SANDBOX_TRUST_XFF", "SANDBOX_SEALED_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert "SANDBOX_SEALED_KEY" not in os.environ
    with SandboxServer() as sandbox:
        assert not sandbox.app.trust_xff and sandbox.app.sealed_key is None
