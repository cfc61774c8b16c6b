"""The signup page in Debian's chromium against the live server and the in-process sandbox."""

from __future__ import annotations

import pytest

from accounts.models import User
from risk.models import SignupAttempt
from tests.support.browser import person_context, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def page_settings(sandbox):
    return sandbox


def sign_up(page, live_server, username: str) -> str:
    """Fill and submit the form; return the outcome code the page settled on."""
    page.goto(f"{live_server.url}/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    outcome = page.locator("#outcome:not([data-outcome='busy'])[data-outcome]")
    outcome.wait_for(state="visible", timeout=15_000)
    return outcome.get_attribute("data-outcome")


def test_person_signs_up_then_a_second_signup_is_held_or_refused(
    browser, live_server, page_settings, settings
):
    context = person_context(browser)
    page = context.new_page()

    assert sign_up(page, live_server, "alice") == "created"
    assert page.get_by_role("status").get_by_text("Your account is ready").is_visible()
    assert page.get_by_text("Welcome, alice!").is_visible()
    save_screenshot(page, "signup-created")
    alice = User.objects.get(username="alice")
    assert alice.is_active
    first = SignupAttempt.objects.get(username="alice")
    assert first.decision == "allow"
    assert first.reasons == []
    assert first.checks["ip"] == "passed"  # the agent's IP is the API's client IP

    # Same browser profile (same localStorage device id), same network: a household's shared
    # computer, so the second account is held for a reviewer.
    assert sign_up(page, live_server, "alice2") == "pending_review"
    save_screenshot(page, "signup-held-same-device")
    second = SignupAttempt.objects.get(username="alice2")
    assert second.decision == "review" and second.reasons == ["device_shared"]
    assert second.visitor_id == first.visitor_id
    assert not User.objects.get(username="alice2").is_active

    # With the seed's strictness (RISK_DEVICE_LIMIT_STRICT), the next one is refused.
    settings.RISK_DEVICE_LIMIT_STRICT = True
    assert sign_up(page, live_server, "alice3") == "denied"
    third = SignupAttempt.objects.get(username="alice3")
    status = page.get_by_role("status")
    assert status.get_by_text("We could not create your account").is_visible()
    assert status.get_by_text(f"Reference: {third.reference}").is_visible()
    assert "device_limit" not in status.inner_text()  # rules are for staff only
    save_screenshot(page, "signup-refused-same-device")
    assert third.decision == "deny" and third.reasons == ["device_limit"]
    assert not User.objects.filter(username="alice3").exists()
    settings.RISK_DEVICE_LIMIT_STRICT = False
    context.close()

    # A fresh profile is a new device and may sign up.
    fresh = person_context(browser)
    page = fresh.new_page()
    assert sign_up(page, live_server, "bob") == "created"
    save_screenshot(page, "signup-fresh-profile")
    bob = SignupAttempt.objects.get(username="bob")
    assert bob.decision == "allow"
    assert bob.visitor_id != first.visitor_id
    fresh.close()


def test_headless_automated_browser_is_refused_as_a_bot(browser, live_server, page_settings):
    context = browser.new_context()  # Playwright's default: HeadlessChrome UA, webdriver true
    page = context.new_page()
    assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    assert sign_up(page, live_server, "mallory") == "denied"
    assert page.get_by_text("We could not create your account").is_visible()
    save_screenshot(page, "signup-refused-bot")
    attempt = SignupAttempt.objects.get(username="mallory")
    assert attempt.decision == "deny"
    assert "bot_bad" in attempt.reasons
    assert attempt.fingerprint_event.bot == "bad"
    assert not User.objects.filter(username="mallory").exists()
    context.close()


def test_field_errors_show_inline(browser, live_server, page_settings):
    context = person_context(browser)
    page = context.new_page()
    User.objects.create_user(username="taken", password=PASSWORD)
    assert sign_up(page, live_server, "taken") == "invalid"
    error = page.locator("#username-error")
    assert error.inner_text() == "This username is already taken."
    assert page.get_by_label("Username").get_attribute("aria-invalid") == "true"
    save_screenshot(page, "signup-field-errors")
    assert not SignupAttempt.objects.filter(username="taken").exists()  # 400 writes nothing
    context.close()


def test_fingerprint_outage_with_deny_policy_asks_to_retry(
    browser, live_server, page_settings, settings
):
    settings.FINGERPRINT_FAILURE_POLICY = "deny"
    settings.FINGERPRINT_MAX_RETRIES = 0
    page_settings.set_faults(target="events", status=503, count=1)
    context = person_context(browser)
    page = context.new_page()
    assert sign_up(page, live_server, "carol") == "unavailable"
    assert page.get_by_text("We can't create accounts right now").is_visible()
    assert page.get_by_text("try again in 5 seconds").is_visible()  # from Retry-After
    save_screenshot(page, "signup-fingerprint-unavailable")
    assert not User.objects.filter(username="carol").exists()
    # The event id was not burnt: the next try (a new event anyway) goes through.
    assert sign_up(page, live_server, "carol") == "created"
    context.close()


def test_agent_that_cannot_load_is_reported(browser, live_server, page_settings, settings):
    settings.FINGERPRINT_API_URL = "http://127.0.0.1:9"  # nothing listens: no agent.js
    context = person_context(browser)
    page = context.new_page()
    assert sign_up(page, live_server, "dave") == "agent_error"
    assert page.get_by_text("We could not check your browser").is_visible()
    assert not SignupAttempt.objects.exists()  # nothing reached the API
    context.close()
