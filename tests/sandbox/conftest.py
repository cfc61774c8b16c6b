"""Fixtures for the sandbox tests: one in-process server for the session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.control import SandboxControl
from sandbox.server import SandboxServer

SECRET = "sandbox-secret-key"
SEALED_KEY = "p2zRUdNqOK3hb+hsmUqgYeyu0PXz5jZ+0XzW5c+0ZfY="  # test-only, base64 of 32 bytes


@pytest.fixture(scope="session")
def server() -> Iterator[SandboxServer]:
    sandbox = SandboxServer(port=0, sealed_key=SEALED_KEY, trust_xff=False).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def control(server: SandboxServer) -> Iterator[SandboxControl]:
    client = SandboxControl(server.url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> None:
    """Every test starts from an empty sandbox (events, faults, DRN seeds, stats)."""
    if "server" in request.fixturenames or "control" in request.fixturenames:
        request.getfixturevalue("control").reset()


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


@pytest.fixture
def v4(server: SandboxServer, http: requests.Session):
    """GET/PATCH helpers for the Server API v4 with the right key."""

    class V4:
        url = server.url

        @staticmethod
        def get(path: str, key: str | None = SECRET, **kw) -> requests.Response:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return http.get(f"{server.url}{path}", headers=headers, timeout=10, **kw)

        @staticmethod
        def patch(path: str, body: object, key: str = SECRET) -> requests.Response:
            headers = {"Authorization": f"Bearer {key}"}
            return http.patch(f"{server.url}{path}", json=body, headers=headers, timeout=10)

    return V4
