"""sandbox/state.py: what every sandbox API shares: keys, DRN's rate, the request counters."""

from __future__ import annotations

import threading

from sandbox.routing import Request
from sandbox.state import SandboxState
from sandbox.store import Store


def state(**options) -> SandboxState:
    return SandboxState(Store(":memory:"), **options)


def test_only_the_configured_secret_keys_are_known():
    app = state(secret_keys=("first-key", "second-key"))
    assert app.known_secret("first-key") and app.known_secret("second-key")
    assert not app.known_secret("first-ke") and not app.known_secret("")


def test_the_bearer_token_is_read_whatever_the_schemes_case():
    app = state()
    bearer = lambda value: app.bearer(Request("GET", "/", {}, {"authorization": value}))  # noqa: E731
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None and bearer("Bearer ") is None
    assert app.bearer(Request("GET", "/", {}, {})) is None


def test_drn_rate_comes_from_the_stored_setting_else_the_default():
    app = state()
    default = (app.drn_rps, app.drn_burst)
    app.store.set_setting("drn_rps", "2.5")
    app.store.set_setting("drn_burst", "3")
    app.load_rate()
    assert (app.drn_rps, app.drn_burst) == (2.5, 3)
    app.store.set_setting("drn_rps", None)
    app.store.set_setting("drn_burst", None)
    app.load_rate()
    assert (app.drn_rps, app.drn_burst) == default


def test_counters_add_up_across_threads_and_faults_are_counted_apart():
    app = state()

    def hammer():
        for _ in range(500):
            app.count("v4_get_event", 200)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.count("v4_get_event", 503)
    app.count("v4_get_event", 503, fault=True)
    assert app.stats() == {
        "requests": {"v4_get_event": 4001},
        "statuses": {"v4_get_event": {"200": 4000, "503": 1}},
        "faults_applied": {"v4_get_event": 1},
        "total": 4001,
    }
    app.stats_clear()
    assert app.stats() == {"requests": {}, "statuses": {}, "faults_applied": {}, "total": 0}
