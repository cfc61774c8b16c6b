"""fpdjango/log_filters.py: django.request's 4xx lines for the signup endpoints are dropped (each
refusal is a SignupAttempt row already); 5xx lines, and every other path's, go through."""

import logging

import pytest
from django.test import RequestFactory

from fpdjango.log_filters import DropSignupClientErrors


def record(path: str, status: int | None) -> logging.LogRecord:
    entry = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "x", (), None)
    entry.request = RequestFactory().post(path)
    if status is not None:
        entry.status_code = status
    return entry


@pytest.mark.parametrize(
    ("path", "status", "kept"),
    [
        ("/api/signup", 403, False),
        ("/api/create-account", 429, False),
        ("/api/signup", 400, False),
        ("/api/signup", 500, True),
        ("/api/signup", 503, True),
        ("/api/signup", None, True),  # no status: an exception's record, always kept
        ("/admin/login/", 403, True),
        ("/api/fingerprint/webhook", 401, True),
    ],
)
def test_which_records_pass(path, status, kept):
    assert DropSignupClientErrors().filter(record(path, status)) is kept


def test_the_projects_logging_applies_it_to_django_request(client, caplog):
    """Through the project's LOGGING: a refused signup leaves no django.request line, a 404
    elsewhere does."""
    logger = logging.getLogger("django.request")
    assert any(isinstance(f, DropSignupClientErrors) for f in logger.filters)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        refused = client.post("/api/signup", b"{", content_type="application/json")
        client.get("/no/such/page/")
    assert refused.status_code == 400
    messages = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert any("/no/such/page/" in m for m in messages), messages
    assert not any("/api/signup" in m for m in messages), messages
