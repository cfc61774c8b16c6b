"""docs/integration.md, followed to the letter on a fresh site.

`django-admin startproject mysite`, made into an existing site: its own user model (email as the
username, a UUID primary key, extra fields), django-allauth and dj-rest-auth. Then every code
block of the guide goes where its first line says, the checkout is pip-installed, `migrate` runs
and nothing else, and people and bots sign up through allauth's page, dj-rest-auth's endpoint
and the guide's plain form view, in Debian's chromium; staff find every attempt in the site's
own /admin/.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.control import SandboxControl
from tests.support.browser import CHROME_UA, person_context, save_screenshot
from tests.support.checkout import checkout_copy

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent.parent
GUIDE = ROOT / "docs" / "integration.md"
PASSWORD = "correct-horse-battery-9"
DENIED = "We could not create your account"

# The site as it was before the guide: a user model of its own, allauth for signups and
# dj-rest-auth for its API.
PEOPLE_MODELS = """
import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    newsletter = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []
"""
EXISTING_SETTINGS = """
INSTALLED_APPS += [
    "people",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "rest_framework.authtoken",
    "dj_rest_auth",
    "dj_rest_auth.registration",
]
MIDDLEWARE += ["allauth.account.middleware.AccountMiddleware"]
AUTH_USER_MODEL = "people.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
"""
EXISTING_URLS = """
from django.urls import include

urlpatterns += [
    path("accounts/", include("allauth.urls")),
    path("api/auth/registration/", include("dj_rest_auth.registration.urls")),
]
"""


def guide_blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block in the guide, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```$", GUIDE.read_text(), flags=re.M | re.S)


def _target(language: str, text: str) -> str:
    first = text.splitlines()[0]
    pattern = r"\{# (\S+) #\}" if language == "django" else r"# (\S+\.py)"
    match = re.fullmatch(pattern, first)
    assert match, f"a {language} block must name its file on its first line: {first!r}"
    return match.group(1)


def test_every_code_block_names_its_file_or_is_a_command():
    for language, text in guide_blocks():
        if language == "sh":
            assert text.startswith(("python -m pip install ", "python manage.py ")), text
        else:
            assert language in ("python", "django"), language
            _target(language, text)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited:\n{log.read_text()}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer:\n{log.read_text()}")


class Site:
    """The generated project, run with the checkout installed and off sys.path."""

    def __init__(self, base: Path, packages: Path) -> None:
        self.base = base
        self.packages = packages
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FINGER"))}
        env.pop("DATABASE_URL", None)
        env["PYTHONPATH"] = str(packages)
        env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
        self.env = env
        self.processes: list[subprocess.Popen] = []

    def manage(self, *args: str, **env: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.base, env={**self.env, **env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def start(self, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        log = self.base / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-u", "manage.py", *args],
            cwd=self.base, env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return process, log

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def rows(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.base / "db.sqlite3") as db:
            return db.execute(sql, params).fetchall()

    def user(self, email: str) -> tuple | None:
        found = self.rows("SELECT is_active FROM people_user WHERE email = ?", email)
        return found[0] if found else None

    def attempt(self, email: str) -> tuple:
        return self.rows(
            "SELECT decision, reasons, endpoint FROM risk_signupattempt WHERE email = ? "
            "ORDER BY id DESC",
            email,
        )[0]


def _install(spec: str, packages: Path) -> None:
    """The guide's `pip install "<checkout>[extras]"`, from a clean copy of the checkout; the
    dependencies are this environment's (no network here), the app goes to its own folder."""
    match = re.fullmatch(r'python -m pip install "/path/to/fpdjango(\[[\w,]+\])"', spec)
    assert match, spec
    checkout = checkout_copy(packages.parent / "checkout")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", f"{checkout}{match.group(1)}", "--no-deps",
         "--no-build-isolation", "--quiet", "--disable-pip-version-check",
         "--target", str(packages)],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("host")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(work)],
        check=True, capture_output=True,
    )  # fmt: skip
    people = work / "people"
    (people / "migrations").mkdir(parents=True)
    (people / "__init__.py").touch()
    (people / "migrations" / "__init__.py").touch()
    (people / "models.py").write_text(PEOPLE_MODELS)
    with (work / "mysite" / "settings.py").open("a") as settings:
        settings.write(EXISTING_SETTINGS)
    with (work / "mysite" / "urls.py").open("a") as urls:
        urls.write(EXISTING_URLS)
    (work / "templates").mkdir()

    packages = work.parent / "site-packages"
    site = Site(work, packages)
    commands = []
    for language, text in guide_blocks():
        if language == "sh":
            commands.append(text.strip())
            continue
        path = work / _target(language, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:  # settings.py and urls.py exist: the block is added
            out.write("\n" + text)
    install, migrate = commands
    _install(install, packages)
    site.manage("makemigrations", "people")  # the existing site's own model
    assert migrate == "python manage.py migrate"
    site.manage("migrate")

    # Development: the sandbox answers for Fingerprint (step 2 installs it with DEBUG).
    sandbox, log = site.start("sandbox", "runsandbox", "--port", "0", "--db", ":memory:")
    deadline = time.monotonic() + 90
    while not (found := re.search(r"on (http://\S+)", log.read_text())):
        assert time.monotonic() < deadline and sandbox.poll() is None, log.read_text()
        time.sleep(0.1)
    site.sandbox_url = found.group(1)
    with (work / "mysite" / "settings.py").open("a") as settings:
        settings.write(f"\nFINGERPRINT_SANDBOX_URL = {site.sandbox_url!r}\n")
    port = _free_port()
    server, log = site.start("server", "runserver", "--noreload", f"127.0.0.1:{port}")
    site.url = f"http://127.0.0.1:{port}"
    _wait_http(f"{site.url}/accounts/signup/", server, log)
    yield site
    site.stop()


def test_the_app_runs_from_the_installed_package_with_django_settings(site):
    out = site.manage("shell", "-c", "import risk; print(risk.__file__)")
    assert out.strip().splitlines()[-1].startswith(str(site.packages))
    assert not (site.packages / "accounts").exists()
    assert not (site.packages / "fpdjango").exists()
    # The keys are Django settings the guide set; no environment variable gave them.
    out = site.manage(
        "shell", "-c",
        "from risk.conf import risk_settings; c = risk_settings(); "
        "print(c.max_accounts_per_device, c.region, c.uses_sandbox)",
    )  # fmt: skip
    assert out.strip().splitlines()[-1].split() == ["1", "us", "True"]


def _allauth_signup(page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/accounts/signup/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    with page.expect_navigation(timeout=15_000):
        page.locator("form button[type=submit]").click()


def test_allauth_signups_of_people_bots_and_repeat_devices(site, browser):
    person = person_context(browser)
    page = person.new_page()
    _allauth_signup(page, site, "ann@example.com")
    assert site.user("ann@example.com") == (1,)
    assert site.attempt("ann@example.com")[0] == "allow"

    # A second account from the same browser (signed out; the device is the same): held
    # (created inactive) or refused.
    person.clear_cookies()
    _allauth_signup(page, site, "ann.again@example.com")
    decision, reasons, endpoint = site.attempt("ann.again@example.com")
    assert endpoint == "allauth"
    assert decision in ("review", "deny"), reasons
    assert site.user("ann.again@example.com") in ((0,), None)
    if decision == "deny":
        assert page.get_by_text(DENIED).is_visible()
    save_screenshot(page, "host-allauth-second-account")
    person.close()

    # Playwright's own browser: HeadlessChrome, navigator.webdriver true.
    bot = browser.new_context()
    page = bot.new_page()
    _allauth_signup(page, site, "bot@example.com")
    error = page.get_by_text(DENIED)
    assert error.is_visible()
    assert "bot" not in error.inner_text().lower()  # the error names no rule
    assert page.locator("input[name=email]").input_value() == "bot@example.com"
    save_screenshot(page, "host-allauth-bot")
    assert site.user("bot@example.com") is None
    decision, reasons, _ = site.attempt("bot@example.com")
    assert decision == "deny" and "bot_bad" in reasons
    bot.close()

    # No agent ran (scripts off): the post carries no event id.
    blind = browser.new_context(user_agent=CHROME_UA, java_script_enabled=False)
    page = blind.new_page()
    _allauth_signup(page, site, "noscript@example.com")
    assert page.get_by_text(DENIED).is_visible()
    assert site.user("noscript@example.com") is None
    assert site.attempt("noscript@example.com")[0] == "deny"
    blind.close()


def test_dj_rest_auth_registration_with_the_mixin(site):
    control = SandboxControl(site.sandbox_url)
    url = f"{site.url}/api/auth/registration/"

    def register(email: str, event_id: str) -> requests.Response:
        body = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
        return requests.post(url, json={**body, "event_id": event_id}, timeout=30)

    human = control.create_event(profile="human", ip="127.0.0.1")
    created = register("api.person@example.com", human["event_id"])
    assert created.status_code == 201, created.text
    # Allowed: active. The browsers above were brand-new devices on this address too, so the
    # verdict may be a hold (`ip_new_devices`): created, inactive.
    decision, _, endpoint = site.attempt("api.person@example.com")
    assert (decision, site.user("api.person@example.com")) in (("allow", (1,)), ("review", (0,)))
    assert endpoint == "signup"

    bot = control.create_event(profile="bad_bot", ip="127.0.0.1")
    refused = register("api.bot@example.com", bot["event_id"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "signup_denied" and refused.json()["reference"]
    assert site.user("api.bot@example.com") is None

    visitor = human["identification"]["visitor_id"]
    again = control.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor)
    second = register("api.again@example.com", again["event_id"])
    assert second.status_code in (201, 403), second.text
    assert site.user("api.again@example.com") in ((0,), None)

    malformed = register("api.forged@example.com", "not-an-event")
    assert malformed.status_code == 400
    assert not site.rows("SELECT 1 FROM risk_signupattempt WHERE email = 'api.forged@example.com'")


def test_the_plain_form_view_of_the_guide(site, browser):
    person = person_context(browser)
    page = person.new_page()
    page.goto(f"{site.url}/signup/")
    page.locator("input[name=email]").fill("form.person@example.com")
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation(timeout=15_000):
        page.get_by_role("button", name="Create account").click()
    # Brand-new devices keep signing up from this address: allowed (active) or held (inactive).
    if site.attempt("form.person@example.com")[0] == "allow":
        assert page.get_by_text("Welcome, form.person@example.com!").is_visible()
        assert site.user("form.person@example.com") == (1,)
    else:
        assert page.get_by_text("Your account opens once").is_visible()
        assert site.user("form.person@example.com") == (0,)
    person.close()

    bot = browser.new_context()
    page = bot.new_page()
    page.goto(f"{site.url}/signup/")
    page.locator("input[name=email]").fill("form.bot@example.com")
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation(timeout=15_000):
        page.get_by_role("button", name="Create account").click()
    assert page.get_by_text(DENIED).is_visible()
    assert site.user("form.bot@example.com") is None
    bot.close()


def test_staff_see_every_attempt_in_the_sites_own_admin(site, browser):
    # Runs after the signups above (pytest keeps the file's order).
    site.manage(
        "createsuperuser", "--noinput",
        DJANGO_SUPERUSER_EMAIL="staff@example.com", DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )  # fmt: skip
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{site.url}/admin/")
    page.locator("#id_username").fill("staff@example.com")
    page.locator("#id_password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("input[type=submit]").click()
    # The site's own index, with the app's models on it.
    assert page.get_by_role("heading", name="Site administration").is_visible()
    assert page.get_by_role("link", name="Signup attempts").is_visible()

    page.goto(f"{site.url}/admin/risk/signupattempt/?status=all")
    save_screenshot(page, "host-admin-attempts")
    listed = page.locator("#result_list").inner_text()
    for email in site.rows("SELECT email FROM risk_signupattempt"):
        assert email[0].split("@")[0] in listed
    page.goto(f"{site.url}/admin/risk/signupattempt/dashboard/")
    assert page.get_by_text("Signups per day").first.is_visible()
    context.close()
