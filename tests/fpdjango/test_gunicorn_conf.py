"""fpdjango/gunicorn.conf.py: gunicorn's own threaded worker with defaults for I/O-bound
signups, served for real with production settings."""

import json
import os
import runpy
import subprocess
import urllib.error
import urllib.request

import pytest

from risk.conf import BY_NAME
from tests.support.production import (
    CONF,
    GUNICORN,
    ROOT,
    NoRedirect,
    get,
    production_env,
    serve,
    stop,
    subprocess_database_url,
)


def test_the_defaults_are_stock_and_fit_io_bound_signups():
    conf = runpy.run_path(str(CONF))
    assert conf["worker_class"] == "gthread"
    assert conf["bind"] == "127.0.0.1:8000"  # only a proxy on this host may reach it
    assert conf["accesslog"] is None
    # Many requests in flight per core: signups mostly wait on Fingerprint.
    assert conf["workers"] * conf["threads"] >= 16 * (os.cpu_count() or 1)
    assert conf["workers"] == max(2, os.cpu_count() or 1)
    # Recycling is staggered: workers never all restart at the same request count.
    assert 0 < conf["max_requests_jitter"] < conf["max_requests"]
    # The slowest legitimate request (the whole Fingerprint budget, the database work and an
    # Argon2 hash) finishes long before its worker would be killed.
    budget = BY_NAME["FINGERPRINT_TIMEOUT_S"].default
    assert conf["timeout"] >= budget + 10 and budget < conf["graceful_timeout"] <= conf["timeout"]


def test_gunicorn_reads_the_file_and_its_own_options_win():
    """gunicorn parses the file itself; `bin/serve --workers 3` and GUNICORN_CMD_ARGS, its own
    ways, change a default."""
    out = subprocess.run(
        [str(GUNICORN), "-c", str(CONF), "--workers", "3", "--print-config", "fpdjango.wsgi"],
        cwd=ROOT,
        env={**production_env(), "GUNICORN_CMD_ARGS": "--threads 7"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    pairs = (line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    lines = {key.strip(): value.strip() for key, value in pairs}
    assert lines["worker_class"] == "gthread"
    assert lines["workers"] == "3" and lines["threads"] == "7"
    assert lines["preload_app"] == "True"


@pytest.mark.django_db(transaction=True)
def test_production_serves_healthz_and_signups_behind_the_https_redirect():
    """The probe is exempt from the HTTPS redirect; everything else is redirected, and behind
    the TLS proxy the API answers with the security headers and a request id."""
    proc, url = serve(production_env(DATABASE_URL=subprocess_database_url()))
    body = json.dumps({"event_id": "not an id", "username": "someone", "password": "x"}).encode()

    def post(*, https: bool) -> tuple[int, dict, bytes]:
        headers = {"Content-Type": "application/json"}
        if https:
            headers["X-Forwarded-Proto"] = "https"  # as the TLS-terminating proxy says
        request = urllib.request.Request(f"{url}/api/signup", body, headers, method="POST")
        try:
            with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    try:
        assert get(f"{url}/healthz") == (200, {"status": "ok", "database": "ok"})
        status, headers, _ = post(https=False)
        port = url.rsplit(":", 1)[1]
        assert (status, headers["Location"]) == (301, f"https://127.0.0.1:{port}/api/signup")
        status, headers, content = post(https=True)
        assert status == 400
        assert json.loads(content)["errors"]["event_id"][0]["code"] == "invalid_event_id"
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Allow"] == "POST, OPTIONS"
        assert len(headers["X-Request-ID"]) == 32
    finally:
        stop(proc)


def test_healthz_is_503_when_the_database_is_unreachable():
    proc, url = serve(production_env(DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere"))
    try:
        assert get(f"{url}/healthz") == (503, {"status": "error", "database": "unreachable"})
    finally:
        stop(proc)
