"""A held signup whose fields carry HTML, for the console's escaping tests (test client and
browser)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from risk.models import SignupAttempt
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401

SCRIPT = "<script>alert(1)</script>"


HOSTILE_USERNAME = f"{SCRIPT}<img src=x onerror=alert(2)>"


HOSTILE_EMAIL = '"<script>alert(3)</script>"@example.com'  # a valid quoted local part


HOSTILE_URL = "https://example.com/signup?q=</td><script>alert(4)</script>"


HOSTILE_UA = "Mozilla/5.0 <svg onload=alert(5)>"


@pytest.fixture
def hostile(sandbox):
    """A held signup whose email, page URL and user agent carry HTML, made through the API;
    the username is set afterwards (the API's validator forbids it, an import would not)."""
    event = sandbox.create_event(
        profile="tor", ip="127.0.0.1", url=HOSTILE_URL, user_agent=HOSTILE_UA
    )
    response = Client(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {
            "event_id": event["event_id"],
            "username": "willbehostile",
            "password": "correct-horse-battery-9",
            "email": HOSTILE_EMAIL,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.email == HOSTILE_EMAIL and attempt.review_status == "pending"
    SignupAttempt.objects.filter(pk=attempt.pk).update(username=HOSTILE_USERNAME)
    get_user_model().objects.filter(pk=attempt.account_id).update(username=HOSTILE_USERNAME)
    attempt.refresh_from_db()
    return attempt
