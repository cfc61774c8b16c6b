"""bin/run, the README's first command: it serves, and Ctrl-C stops it with a word that says so."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ctrl_c_stops_the_servers_and_says_stopped(tmp_path):
    port, sandbox_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_SETTINGS")},
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "DEMO_USERS": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    log = tmp_path / "run.log"
    # Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
    run = subprocess.Popen(
        ["bin/run"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while "Press Ctrl-C to stop." not in log.read_text():
            assert run.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

        os.killpg(run.pid, signal.SIGINT)
        assert run.wait(timeout=60) == 0, log.read_text()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    out = log.read_text()
    assert out.rstrip().endswith("stopped."), out
    assert "unexpectedly" not in out
    for server_port in (port, sandbox_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", server_port)) != 0  # nothing left listening
