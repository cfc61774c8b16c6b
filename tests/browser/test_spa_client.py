"""The React signup SPA (docs/clients/react) in Debian's chromium against the live server.

The SPA is built with npm (npm ci + vite build, cached under var/clients-react/ by the
lockfile's hash, and the build by its sources' hash too) and served from the live server's own
origin, as a reverse proxy would in production: /spa/ is the built app, /fp-sandbox/ forwards
to the in-process Fingerprint sandbox (whose stand-in agent the SPA loads without a public key),
everything else is Django. The SPA then signs people up through the real /api/signup.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from whitenoise import WhiteNoise

from accounts.models import User
from risk.models import SignupAttempt
from tests.support.browser import person_context, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "docs" / "clients" / "react"
CACHE = ROOT / "var" / "clients-react"
# What the build reads; the lockfile alone keys node_modules, all of these key the build.
SOURCES = ("package.json", "package-lock.json", ".npmrc", "vite.config.js", "index.html", "src")
SANDBOX_PATH = "/fp-sandbox"  # the SPA's default VITE_FINGERPRINT_SANDBOX_URL

PASSWORD = "correct-horse-battery-9"


def _digest(names: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for name in names:
        path = APP_DIR / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(APP_DIR).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took over 10 minutes ({' '.join(command)} in {cwd})")
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        pytest.fail(f"{what} failed ({' '.join(command)} in {cwd}):\n{output}")


@pytest.fixture(scope="session")
def spa_dist() -> Path:
    """The SPA built for the sandbox: `npm ci` once per lockfile, `vite build` once per
    version of the sources; a warm run only looks the build up."""
    work = CACHE / _digest(("package-lock.json",))
    dist = work / f"dist-{_digest(SOURCES)}"
    if (dist / "index.html").exists():
        return dist
    npm = shutil.which("npm")
    node = shutil.which("node")
    if not npm or not node:
        pytest.fail(
            "npm is missing: this test builds the React example in docs/clients/react with "
            "npm ci + vite build. Install Node.js 20.19+ with npm (Debian: apt-get install "
            "nodejs npm) and run it again."
        )

    work.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        source, target = APP_DIR / name, work / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITE_")}
    env.pop("NODE_ENV", None)  # production would skip vite, a devDependency
    env.update(npm_config_update_notifier="false", npm_config_fund="false")
    installed = work / "node_modules" / ".fpdjango-npm-ci-done"
    if not installed.exists():
        _run([npm, "ci", "--no-audit", "--include=dev"], work, env, "npm ci")
        installed.touch()

    # Built for the sandbox, reached through this origin (see spa_site); same-origin API.
    env.update(
        VITE_FINGERPRINT_PUBLIC_KEY="",
        VITE_API_BASE_URL="",
        VITE_FINGERPRINT_SANDBOX_URL=SANDBOX_PATH,
    )
    partial = work / f"{dist.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    vite = work / "node_modules" / "vite" / "bin" / "vite.js"
    _run([node, str(vite), "build", "--outDir", str(partial), "--emptyOutDir"], work, env, "vite")
    partial.rename(dist)
    for old in work.glob("dist-*"):  # builds of earlier sources
        if old != dist:
            shutil.rmtree(old, ignore_errors=True)
    return dist


class SpaSite:
    """The live server's WSGI app with what a reverse proxy adds in front of a deployment that
    serves the SPA: the built files under /spa/, the Fingerprint sandbox under /fp-sandbox/."""

    def __init__(self, app, dist: Path, sandbox_url: str):
        self.files = WhiteNoise(app, root=str(dist), prefix="spa/", index_file=True)
        self.sandbox_url = sandbox_url

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(SANDBOX_PATH + "/"):
            return self.forward(environ, start_response, path.removeprefix(SANDBOX_PATH))
        return self.files(environ, start_response)

    def forward(self, environ, start_response, path: str):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        query = environ.get("QUERY_STRING")
        headers = {
            name: environ[key]
            for name, key in (("Content-Type", "CONTENT_TYPE"), ("User-Agent", "HTTP_USER_AGENT"))
            if environ.get(key)
        }
        answer = requests.request(
            environ["REQUEST_METHOD"],
            self.sandbox_url + path + (f"?{query}" if query else ""),
            data=environ["wsgi.input"].read(length) if length else None,
            headers=headers,
            timeout=10,
        )
        start_response(
            f"{answer.status_code} {answer.reason}",
            [
                ("Content-Type", answer.headers.get("Content-Type", "application/octet-stream")),
                ("Content-Length", str(len(answer.content))),
                ("Cache-Control", "no-cache"),
            ],
        )
        return [answer.content]


@pytest.fixture
def spa_url(live_server, sandbox_server, sandbox, spa_dist, settings):
    """The SPA's URL on the live server; the origin checks are on, with the live server's
    origin allowed (the SPA, the API and the agent are one origin)."""
    settings.RISK_ALLOWED_ORIGINS = [live_server.url]
    httpd = live_server.thread.httpd
    original = httpd.get_app()
    httpd.set_app(SpaSite(original, spa_dist, sandbox_server.url))
    yield f"{live_server.url}/spa/"
    httpd.set_app(original)


def sign_up(page, spa_url: str, username: str) -> str:
    """Open the SPA, fill and submit its form; return the outcome it settled on."""
    page.goto(spa_url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    outcome = page.locator("[data-outcome]:not([data-outcome='busy'])")
    outcome.wait_for(state="visible", timeout=15_000)
    return outcome.get_attribute("data-outcome")


def test_spa_signup_then_a_second_from_the_same_browser_is_held(
    browser, live_server, spa_url, settings
):
    context = person_context(browser)
    page = context.new_page()

    assert sign_up(page, spa_url, "erin") == "created"
    status = page.get_by_role("status")
    assert status.get_by_text("Your account is ready").is_visible()
    assert status.get_by_text("Welcome, erin!").is_visible()
    assert page.get_by_text("(sandbox mode)").is_visible()
    save_screenshot(page, "spa-signup-created")
    assert User.objects.get(username="erin").is_active
    first = SignupAttempt.objects.get(username="erin")
    assert first.decision == "allow" and first.reasons == []
    assert first.fingerprint_event.url == spa_url  # identified on the SPA's page
    assert first.origin == live_server.url  # and posted from it
    assert first.checks["ip"] == "passed"
    assert first.checks["origin"] == "passed"

    # The same browser again (its device id is in localStorage): a household's shared computer,
    # held for a reviewer, with the reference staff can search.
    assert sign_up(page, spa_url, "erin2") == "pending_review"
    second = SignupAttempt.objects.get(username="erin2")
    status = page.get_by_role("status")
    assert status.get_by_text("Almost there: your account is being reviewed").is_visible()
    assert status.get_by_text(f"Reference: {second.reference}").is_visible()
    save_screenshot(page, "spa-signup-held-same-device")
    assert second.decision == "review" and second.reasons == ["device_shared"]
    assert second.visitor_id == first.visitor_id
    assert not User.objects.get(username="erin2").is_active

    # With the seed's strictness the next one is refused; the page shows only the reference.
    settings.RISK_DEVICE_LIMIT_STRICT = True
    assert sign_up(page, spa_url, "erin3") == "denied"
    third = SignupAttempt.objects.get(username="erin3")
    status = page.get_by_role("status")
    assert status.get_by_text("We could not create your account").is_visible()
    assert status.get_by_text(f"Reference: {third.reference}").is_visible()
    assert "device_limit" not in status.inner_text()
    save_screenshot(page, "spa-signup-refused-same-device")
    assert third.decision == "deny" and not User.objects.filter(username="erin3").exists()
    context.close()


def test_spa_shows_field_errors(browser, spa_url):
    User.objects.create_user(username="taken", password=PASSWORD)
    context = person_context(browser)
    page = context.new_page()
    assert sign_up(page, spa_url, "taken") == "invalid"
    assert page.locator("#username-error").inner_text() == "This username is already taken."
    assert page.get_by_label("Username").get_attribute("aria-invalid") == "true"
    save_screenshot(page, "spa-signup-field-errors")
    assert not SignupAttempt.objects.filter(username="taken").exists()
    context.close()
