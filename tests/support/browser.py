"""Browser tests: Playwright for Python driving Debian's chromium (no browser download). One
session fixture for the whole run (registered in tests/conftest.py): a second Playwright in the
same thread would fail while the first runs."""

import os
import shutil
from pathlib import Path

import pytest

from tests.support.review import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Playwright's sync API runs an event loop in this thread; Django's ORM must still be allowed.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run bin/test (it installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


# A person's browser: automated chromium is otherwise (rightly) a bad bot to the sandbox.
CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# What a person's browser shows: navigator.webdriver is false outside automation.
HIDE_WEBDRIVER = (
    "Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false, "
    "configurable: true});"
)


def person_context(browser, **options):
    """A browser context that looks like a person's chromium, not an automated one."""
    context = browser.new_context(user_agent=CHROME_UA, locale="en-US", **options)
    context.add_init_script(HIDE_WEBDRIVER)
    return context


def save_screenshot(page, name: str) -> Path:
    """Full-page PNG under var/screenshots/ (reviewers look at these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page, live_server, username: str) -> None:
    """Sign in on the admin's login page, as `username` with the tests' password."""
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
