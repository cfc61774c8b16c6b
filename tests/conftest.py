"""Shared fixtures: a real Fingerprint sandbox over HTTP, and settings pointing at it."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from sandbox.control import SandboxControl
from sandbox.server import SandboxServer

# Fixtures shared across folders, defined once (a fixture imported into two conftests would be
# two session fixtures: two Playwrights, two Redis checks).
from tests.support.browser import browser  # noqa: F401
from tests.support.hostile import hostile  # noqa: F401
from tests.support.logs import json_log  # noqa: F401
from tests.support.privacy import world  # noqa: F401
from tests.support.redis_celery import (  # noqa: F401
    celery_broker,
    celery_worker_factory,
    redis_prefix,
    redis_settings,
    redis_url,
)
from tests.support.upstream import counting_api  # noqa: F401


# The vendor's example payloads, read in place from shared/fixtures/fingerprint/ beside the
# checkout (CI's layout), beside the local repository this one was cloned from (a clone in
# /tmp of a checkout that has them), or FINGERPRINT_FIXTURES_DIR.
def _fixtures_dir() -> Path:
    if explicit := os.environ.get("FINGERPRINT_FIXTURES_DIR"):
        return Path(explicit)
    checkout = Path(__file__).resolve().parents[1]
    beside = [checkout.parent]
    try:
        origin = subprocess.run(
            ["git", "-C", str(checkout), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin.startswith("/") or origin.startswith("file://"):
        source = Path(origin.removeprefix("file://")).resolve()
        source = source.parent if source.name == ".git" else source
        beside.append(source.parent)
    candidates = [folder / "shared" / "fixtures" / "fingerprint" for folder in beside]
    return next((path for path in candidates if path.is_dir()), candidates[0])


FIXTURES = _fixtures_dir()
SANDBOX_KEY = "sandbox-secret-key"


def vendor_fixture_bytes(name: str) -> bytes:
    """A vendor example payload, as the vendor wrote it. Missing is a failure that says where
    it looked, not a skip: these tests hold the product to the vendor's real shapes."""
    path = FIXTURES / name
    if not path.exists():
        pytest.fail(
            f"vendor fixture {path} is missing: check out ../shared beside the repository (or "
            "beside the local repository this one was cloned from), or set "
            "FINGERPRINT_FIXTURES_DIR to its fixtures/fingerprint folder"
        )
    return path.read_bytes()


def vendor_fixture(name: str) -> dict:
    """A vendor example payload, parsed."""
    return json.loads(vendor_fixture_bytes(name))


def one_device_events(sandbox: SandboxControl, count: int) -> tuple[str, list[str]]:
    """`count` fresh human events of one new device, from 127.0.0.1: its visitor id and the
    event ids."""
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    visitor = first["identification"]["visitor_id"]
    return visitor, [first["event_id"]] + [
        sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor)["event_id"]
        for _ in range(count - 1)
    ]


@pytest.fixture(scope="session", autouse=True)
def live_server_backlog():
    """Django's test server listens with a backlog of 10 connections; the concurrency tests
    open 50 at once, and on loopback a connect past the backlog can be reset instead of
    queued (seen once in CI: ConnectionResetError on 1 of 50 signups). Production runs
    gunicorn, whose backlog is 2048."""
    from django.core.servers.basehttp import ThreadedWSGIServer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ThreadedWSGIServer, "request_queue_size", 128)
        yield


@pytest.fixture(autouse=True)
def no_runtime_thresholds():
    """Every test starts with no runtime threshold overrides in this process (whatever an
    earlier test applied, whose rows its rollback removed), without reading the table: tests
    that apply thresholds reload them (risk.thresholds)."""
    from risk.thresholds import thresholds_assume

    thresholds_assume({})


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxServer(host="127.0.0.1", port=0, db_path=":memory:")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server, settings) -> SandboxControl:
    """The sandbox's control API; the product's settings point at the sandbox for this test."""
    settings.FINGERPRINT_API_URL = sandbox_server.url
    settings.FINGERPRINT_SECRET_API_KEY = SANDBOX_KEY
    control = SandboxControl(sandbox_server.url)
    control.clear_faults()
    yield control
    control.clear_faults()


def drn_calls(control: SandboxControl) -> int:
    """How many DRN requests the sandbox has answered so far."""
    return control.stats()["requests"].get("drn", 0)


def settle(control: SandboxControl, *, calls_before: int, timeout: float = 5.0) -> None:
    """Wait until the sandbox has finished (and counted) a request we stopped waiting for, so
    it cannot show up in a later test's request counts."""
    deadline = time.monotonic() + timeout
    while drn_calls(control) <= calls_before and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def crash_after_batches():
    """crash_after_batches(n): the n-th batch a job commits is its last; right after it, the
    job stops as if Ctrl-C was pressed (through risk.services.jobs.batch_committed)."""
    from risk.services.jobs import batch_committed

    seen = []

    def arm(n: int = 1) -> list[dict]:
        def receiver(sender, state, **kwargs):
            seen.append(state)
            if len(seen) >= n:
                raise KeyboardInterrupt

        batch_committed.connect(receiver, weak=False, dispatch_uid="crash_after_batches")
        return seen

    yield arm
    batch_committed.disconnect(dispatch_uid="crash_after_batches")
