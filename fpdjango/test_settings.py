"""Settings for the test suite: production settings with test-only secrets and cheap hashing."""

import os

# Long and varied enough for the production checks (risk.E013); known to everyone, like this file.
os.environ.setdefault(
    "DJANGO_SECRET_KEY", "test-only-not-a-secret-7Qm2vX9pL4rT8wK1nB6cH3jF5dS0gY-zA"
)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SANDBOX_ENABLED", "1")

from fpdjango.settings import *  # noqa: F403

# Real Argon2id, at a cost that keeps the suite fast; production cost is set in settings.py.
ARGON2_TIME_COST = 1
ARGON2_MEMORY_COST_KIB = 1024
ARGON2_PARALLELISM = 1

# Templates render without `collectstatic` (production uses WhiteNoise's manifest storage).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Live-server threads must not keep connections open past a test (PostgreSQL drops the test
# database at the end and refuses while sessions remain).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# Throttles are on by default in production; the suite's many signups from 127.0.0.1 would
# trip them, so tests that are about throttling turn them on (tests/risk/test_throttles.py).
SIGNUP_THROTTLE_RATE = ""
SIGNUP_THROTTLE_VISITOR_RATE = ""
# The suite's Fingerprint is the sandbox on a loopback address, with production settings: said
# on purpose, as a benchmark would (risk.E001, E011, E012).
FINGERPRINT_SANDBOX_IN_PRODUCTION = True
# The console's tests sign staff in with a password; the OTP tests turn it on.
REVIEW_REQUIRE_OTP = False
# Plain log lines in test output; the JSON formatter has its own tests.
LOG_FORMAT = "plain"
LOGGING["handlers"]["console"]["formatter"] = "plain"  # noqa: F405
