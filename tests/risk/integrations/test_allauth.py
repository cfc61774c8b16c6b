"""risk/integrations/allauth.py: signups through django-allauth's own signup page with risk's
form, on a site with allauth installed (a subprocess: this suite's project has no allauth),
Fingerprint being the sandbox over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import SANDBOX_KEY
from tests.support import ROOT

PASSWORD = "correct-horse-battery-9"

SETTINGS = """
from fpdjango.test_settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "allauth", "allauth.account"]
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]
AUTHENTICATION_BACKENDS = [
    *AUTHENTICATION_BACKENDS, "allauth.account.auth_backends.AuthenticationBackend"
]
ROOT_URLCONF = "allauth_site_urls"
ACCOUNT_FORMS = {"signup": "risk.integrations.allauth.SignupForm"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
"""
URLS = """
from django.urls import include, path
from fpdjango.urls import urlpatterns as project

urlpatterns = [*project, path("accounts/", include("allauth.urls"))]
"""
# Each case POSTs allauth's signup form (Django's test client, one client IP) and reports what
# the page said and what was stored.
SIGNUPS = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()  # the client keeps each response's template context
from accounts.models import User
from risk.models import SignupAttempt

for name, event_id, password2 in json.loads(sys.argv[1]):
    response = Client(REMOTE_ADDR="127.0.0.1").post("/accounts/signup/", {
        "username": name, "email": f"{name}@example.com",
        "password1": "correct-horse-battery-9", "password2": password2,
        "fingerprint_event_id": event_id,
    })
    user = User.objects.filter(username=name).first()
    attempt = SignupAttempt.objects.filter(username=name).first()
    errors = response.context["form"].non_field_errors() if response.status_code == 200 else []
    print(json.dumps({
        "name": name,
        "status": response.status_code,
        "errors": list(errors),
        "active": None if user is None else user.is_active,
        "decision": attempt and attempt.decision,
        "endpoint": attempt and attempt.endpoint,
        "reference": attempt and attempt.reference,
        "linked": bool(attempt and user and attempt.account_id == user.pk),
    }))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, sandbox_server):
    """A site with allauth and risk's form: settings, URLs and a migrated database."""
    folder = tmp_path_factory.mktemp("allauth_site")
    (folder / "allauth_site_settings.py").write_text(textwrap.dedent(SETTINGS))
    (folder / "allauth_site_urls.py").write_text(textwrap.dedent(URLS))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "allauth_site_settings",
        "DATABASE_URL": f"sqlite:///{folder / 'site.sqlite3'}",
        "FINGERPRINT_API_URL": sandbox_server.url,
        "FINGERPRINT_SECRET_API_KEY": SANDBOX_KEY,
        "LOG_LEVEL": "WARNING",
        "DJANGO_ALLOWED_HOSTS": "testserver",  # Django's test client's host
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return env


def signups(site, cases: list[tuple]) -> dict[str, dict]:
    """cases: (username, event id[, password2]); the passwords match unless said."""
    cases = [case if len(case) == 3 else (*case, PASSWORD) for case in cases]
    result = subprocess.run(
        [sys.executable, "-c", SIGNUPS, json.dumps(cases)],
        cwd=ROOT,
        env=site,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {row["name"]: row for row in rows}


def test_allauth_creates_the_account_as_the_verdict_says(site, sandbox):
    cases = [
        ("person", sandbox.create_event(profile="human", ip="127.0.0.1")["event_id"]),
        ("onion", sandbox.create_event(profile="tor", ip="127.0.0.1")["event_id"]),
        ("robot", sandbox.create_event(profile="bad_bot", ip="127.0.0.1")["event_id"]),
        ("blind", ""),  # no agent ran: no event id
    ]
    seen = signups(site, cases)

    person = seen["person"]
    assert person["status"] == 302 and person["active"] is True and person["linked"]
    assert (person["decision"], person["endpoint"]) == ("allow", "allauth")
    onion = seen["onion"]
    assert onion["decision"] == "review" and onion["active"] is False and onion["linked"]
    for refused in ("robot", "blind"):
        row = seen[refused]
        assert row["status"] == 200 and row["active"] is None, row  # the form again, no account
        assert row["decision"] == "deny"
        (error,) = row["errors"]
        assert row["reference"] in error and "bot" not in error.lower()  # no rule named


def test_an_invalid_form_costs_no_call_to_fingerprint(site, sandbox):
    calls = sandbox.stats()["requests"].get("v4_get_event", 0)
    event = sandbox.create_event(profile="human", ip="127.0.0.1")
    seen = signups(site, [("typo", event["event_id"], "another-password-8")])
    assert seen["typo"]["status"] == 200 and seen["typo"]["active"] is None
    assert seen["typo"]["decision"] is None  # allauth's own error came first
    assert sandbox.stats()["requests"].get("v4_get_event", 0) == calls
