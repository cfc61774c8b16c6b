"""Logging filters referenced from settings.LOGGING."""

import logging

# The signup endpoints answer most abusive traffic with 4xx on purpose, and each such answer is
# already a SignupAttempt row: Django's per-response "Forbidden: /api/signup" warning only
# costs a formatted write per refusal under a flood and buries real warnings.
SIGNUP_PATHS = frozenset({"/api/signup", "/api/create-account"})


class DropSignupClientErrors(logging.Filter):
    """Drop django.request's 4xx records for the signup endpoints; 5xx always pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None) or 500
        request = getattr(record, "request", None)
        return status >= 500 or getattr(request, "path", "") not in SIGNUP_PATHS
