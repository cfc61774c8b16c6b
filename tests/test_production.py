"""Production serving: /healthz, the gunicorn configuration, and `check --deploy`."""

import json
import os
import platform
import runpy
import secrets
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "fpdjango" / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"
UNREACHABLE_DB = "postgres://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


def production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GUNICORN_", "FINGERPRINT_", "SANDBOX_"))
    }
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FINGERPRINT_SECRET_API_KEY="test-secret-key",
        RISK_ALLOWED_ORIGINS="https://signup.example.com",  # empty is risk.W010
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def subprocess_database_url() -> str:
    """The test database as a DATABASE_URL, so a subprocess can reach it."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


# --- /healthz ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_ok_when_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_healthz_rejects_other_methods(client):
    assert client.post("/healthz").status_code == 405


# --- gunicorn configuration ------------------------------------------------------------------


def load_conf(monkeypatch, **env: str) -> dict:
    for key in list(os.environ):
        if key.startswith("GUNICORN_") or key in ("PORT", "FINGERPRINT_TIMEOUT_S"):
            monkeypatch.delenv(key)
    # post_fork sets the hasher's cap, in the environment and the settings: recorded here, so
    # the test undoes it.
    monkeypatch.setenv("ARGON2_MAX_CONCURRENT_HASHES", "")
    monkeypatch.delenv("ARGON2_MAX_CONCURRENT_HASHES")
    cap = django_settings.ARGON2_MAX_CONCURRENT_HASHES
    monkeypatch.setattr(django_settings, "ARGON2_MAX_CONCURRENT_HASHES", cap)
    monkeypatch.setattr(sys, "setswitchinterval", lambda interval: None)  # post_fork's
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(CONF))


def forked(conf: dict, workers_running: int | None = None) -> None:
    """gunicorn's post_fork in a worker, with `workers_running` workers (the file's count
    when None, as without `-w`)."""
    workers = workers_running or conf["workers"]
    conf["post_fork"](types.SimpleNamespace(cfg=types.SimpleNamespace(workers=workers)), None)


def test_gunicorn_defaults_fit_io_bound_signups(monkeypatch):
    conf = load_conf(monkeypatch)
    # Threaded, taking connections only with a thread free (tests/test_gunicorn_worker.py).
    assert conf["worker_class"] == "fpdjango.gunicorn_worker.FreeThreadWorker"
    assert load_conf(monkeypatch, GUNICORN_WORKER_CLASS="gthread")["worker_class"] == "gthread"
    assert conf["bind"] == "127.0.0.1:8000"
    assert conf["accesslog"] is None
    # Many requests in flight per core: signups mostly wait on Fingerprint.
    assert conf["workers"] * conf["threads"] >= 16 * (os.cpu_count() or 1)
    # One process per core: with one Argon2 hash per process, one hash per core at once.
    assert conf["workers"] == max(2, os.cpu_count() or 1)
    forked(conf)
    assert os.environ["ARGON2_MAX_CONCURRENT_HASHES"] == "1"
    # Recycling is staggered: workers never all restart at the same request count.
    assert 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert conf["control_socket_disable"] is True


@pytest.mark.parametrize("budget", ["0.5", "2", "7.5", "30"])
def test_gunicorn_never_kills_a_request_still_inside_its_fingerprint_budget(monkeypatch, budget):
    conf = load_conf(monkeypatch, FINGERPRINT_TIMEOUT_S=budget)
    # The slowest legitimate request: the whole Fingerprint budget, then database work and
    # an Argon2 hash (well under 10 s even on a loaded host).
    assert conf["timeout"] >= float(budget) + 10
    # A graceful restart lets a request that just started its lookup finish.
    assert float(budget) < conf["graceful_timeout"] <= conf["timeout"]


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_gunicorn_starts_a_worker_per_core_at_least_by_default():
    """The default worker count, observed on a running gunicorn: every core has a process."""
    proc, url = serve(production_env(DATABASE_URL=UNREACHABLE_DB), workers=None, threads=None)
    try:
        deadline = time.monotonic() + 30
        while len(_worker_pids(proc.pid)) < (os.cpu_count() or 1):
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.1)
        assert get(f"{url}/healthz")[0] == 503  # served (the database is unreachable)
    finally:
        stop(proc)


def test_gunicorn_settings_follow_the_environment(monkeypatch):
    conf = load_conf(
        monkeypatch,
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="5",
        GUNICORN_BIND="127.0.0.1:9001",
        GUNICORN_ACCESS_LOG="-",
        GUNICORN_MAX_REQUESTS="100",
        FINGERPRINT_TIMEOUT_S="7.5",
    )
    assert (conf["workers"], conf["threads"]) == (3, 5)
    assert conf["timeout"] > 7.5
    assert conf["bind"] == "127.0.0.1:9001"
    assert conf["accesslog"] == "-"
    assert conf["max_requests"] == 100 and 0 < conf["max_requests_jitter"] < 100
    assert load_conf(monkeypatch, PORT="8123")["bind"] == "127.0.0.1:8123"


def test_gunicorn_runs_one_argon2_hash_per_core_across_its_workers(monkeypatch):
    cores = os.cpu_count() or 1
    for workers in (1, cores, 2 * cores, 4 * cores):
        forked(load_conf(monkeypatch, GUNICORN_WORKERS=str(workers)))
        assert int(os.environ["ARGON2_MAX_CONCURRENT_HASHES"]) == max(1, cores // workers)
    forked(load_conf(monkeypatch, GUNICORN_WORKERS="1", ARGON2_MAX_CONCURRENT_HASHES="7"))
    assert os.environ["ARGON2_MAX_CONCURRENT_HASHES"] == "7"  # an operator's choice stands


def test_a_worker_count_given_on_the_command_line_sets_the_argon2_cap(monkeypatch, settings):
    """`gunicorn -w N` overrides the file's `workers` after it ran: each worker sets the cap
    from the count gunicorn actually runs, in the environment and in settings already loaded
    (preload_app), unless the operator chose it."""
    cores = os.cpu_count() or 1
    conf = load_conf(monkeypatch, GUNICORN_WORKERS="1")
    forked(conf, 4 * cores)
    assert os.environ["ARGON2_MAX_CONCURRENT_HASHES"] == "1"
    assert settings.ARGON2_MAX_CONCURRENT_HASHES == 1
    forked(conf, 1)
    assert cores == settings.ARGON2_MAX_CONCURRENT_HASHES

    conf = load_conf(monkeypatch, ARGON2_MAX_CONCURRENT_HASHES="7")
    settings.ARGON2_MAX_CONCURRENT_HASHES = 7
    forked(conf, 4 * cores)
    assert os.environ["ARGON2_MAX_CONCURRENT_HASHES"] == "7"
    assert settings.ARGON2_MAX_CONCURRENT_HASHES == 7


ARENAS_SCRIPT = """
import ctypes, runpy, sys, threading
if sys.argv[1:]:
    runpy.run_path(sys.argv[1])
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
start = threading.Barrier(8)
def allocate():
    start.wait()  # all at once: glibc gives a thread that finds its arena busy a new one
    blocks = [libc.malloc(1 << 20) for _ in range(20)]
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _malloc_arenas(*args: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GUNICORN_"))}
    result = subprocess.run(
        [sys.executable, "-c", ARENAS_SCRIPT, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return sum(line.startswith("Arena ") for line in result.stderr.splitlines())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_gunicorn_caps_malloc_arenas_so_argon2_blocks_are_reused():
    """Eight threads allocating at once get their own arenas by default (each would keep a
    freed 19 MiB Argon2 block); the config file caps a process at two."""
    assert _malloc_arenas() > 2
    assert _malloc_arenas(str(CONF)) <= 2


def test_gunicorn_accepts_the_config_file():
    """gunicorn itself parses the file: every name is a setting it knows, with a valid value."""
    out = subprocess.run(
        [str(GUNICORN), "-c", str(CONF), "--print-config", "fpdjango.wsgi:application"],
        cwd=ROOT,
        env=production_env(GUNICORN_WORKERS="3", GUNICORN_THREADS="7"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip() for line in
             out.stdout.splitlines() if "=" in line}  # fmt: skip
    assert lines["worker_class"] == "fpdjango.gunicorn_worker.FreeThreadWorker"
    assert lines["workers"] == "3" and lines["threads"] == "7"
    assert lines["preload_app"] == "True"


def serve(
    env: dict,
    *,
    workers: str | None = "1",
    threads: str | None = "2",
    app: str = "fpdjango.wsgi:application",
) -> tuple[subprocess.Popen, str]:
    """Start gunicorn with the project's config; return it and its base URL once it listens.
    workers / threads None: the config's defaults."""
    port = free_port()
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    for name, value in (("GUNICORN_WORKERS", workers), ("GUNICORN_THREADS", threads)):
        if value is not None:
            env[name] = value
    proc = subprocess.Popen(
        [str(GUNICORN), "-c", str(CONF), app],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("gunicorn did not start listening")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_healthz_with_production_settings():
    # SSL redirect stays on (the production default): the probe is exempt from it.
    proc, url = serve(production_env(DATABASE_URL=subprocess_database_url()))
    try:
        assert get(f"{url}/healthz") == (200, {"status": "ok", "database": "ok"})
        request = urllib.request.Request(f"{url}/api/schema")
        with pytest.raises(urllib.error.HTTPError) as redirect:  # HTTPS redirect for the rest
            urllib.request.build_opener(NoRedirect).open(request, timeout=10)
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"].startswith("https://")
    finally:
        stop(proc)


def test_gunicorn_healthz_is_503_when_the_database_is_unreachable():
    proc, url = serve(production_env(DATABASE_URL=UNREACHABLE_DB))
    try:
        assert get(f"{url}/healthz") == (503, {"status": "error", "database": "unreachable"})
    finally:
        stop(proc)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# --- check --deploy ----------------------------------------------------------------------------


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_production_settings():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_on_a_weakened_production_setting():
    """The same command does catch a real problem (HSTS switched off)."""
    result = check_deploy(DJANGO_SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_signups_through_the_fast_path_with_production_settings():
    """What gunicorn serves (fpdjango.wsgi, loaded in the master before the fork) answers a
    signup as the full stack does: the HTTPS redirect first, then the API's own answers with
    the security headers and a request id."""
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
