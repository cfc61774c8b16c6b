"""manage.py runsandbox: the sandbox as its own process, keys from the environment, and a
`kill` that stops it as cleanly as Ctrl-C (bin/run sends one)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.support import ROOT
from tests.support.redis_celery import database_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)  # its system checks need the cache table: a real database
def test_it_serves_with_the_environments_keys_and_stops_on_sigterm():
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fpdjango.test_settings",
        "DATABASE_URL": database_url(),
        "SANDBOX_SECRET_KEYS": "first-key, second-key",
        "PYTHONUNBUFFERED": "1",  # the banner arrives before the server blocks
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runsandbox", "--port", str(port), "--db", ":memory:"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        while not any("Fingerprint sandbox on" in line for line in lines):
            line = proc.stdout.readline()
            assert line, "".join(lines)  # ended without its banner
            lines.append(line)
        assert f"Fingerprint sandbox on http://127.0.0.1:{port}" in lines[-1]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the sandbox never answered"
                time.sleep(0.1)
        event = requests.post(f"{url}/_sandbox/events", json={}, timeout=5).json()
        path = f"{url}/v4/events/{event['event_id']}"
        for key, status in (("second-key", 200), ("sandbox-secret-key", 403)):
            headers = {"Authorization": f"Bearer {key}"}
            assert requests.get(path, headers=headers, timeout=5).status_code == status, key
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "sandbox stopped" in out
