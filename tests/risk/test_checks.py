"""risk/checks.py: `manage.py check` names misconfiguration, with one id per kind of mistake."""

import inspect
import re

import pytest
from django.core.checks import run_checks
from django.db import connection

from risk import checks
from tests.support.production import check_deploy


def risk_ids(**kwargs) -> set[str]:
    return {m.id for m in run_checks(**kwargs) if m.id and m.id.startswith("risk.")}


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.FINGERPRINT_SECRET_API_KEY = "real-key"
    settings.FINGERPRINT_SANDBOX_IN_PRODUCTION = False
    settings.RISK_ALLOWED_ORIGINS = ["https://signup.example.com"]
    return settings


def test_the_test_settings_pass(db):
    assert risk_ids() == set()


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("FINGERPRINT_REGION", "mars", "risk.E002"),
        ("FINGERPRINT_API_VERSION", "v9", "risk.E002"),
        ("FINGERPRINT_FAILURE_POLICY", "maybe", "risk.E002"),
        ("FINGERPRINT_API_URL", "ftp://x", "risk.E004"),
        ("FINGERPRINT_DRN_API_URL", "drn.example", "risk.E004"),
        ("RISK_ALLOWED_ORIGINS", ["not an origin"], "risk.E005"),
        ("RISK_MIN_CONFIDENCE", 1.5, "risk.E003"),
        ("RISK_MAX_ACCOUNTS_PER_DEVICE", 0, "risk.E003"),
        ("FINGERPRINT_TIMEOUT_S", "soon", "risk.E003"),
        ("FINGERPRINT_DRN_RPS", 0, "risk.E003"),
        ("RISK_TRUSTED_PROXY_COUNT", -1, "risk.E003"),
        ("RISK_CHECK_IP", "maybe", "risk.E008"),
        ("SIGNUP_THROTTLE_RATE", "lots", "risk.E020"),
        ("SIGNUP_THROTTLE_VISITOR_RATE", "5/fortnight", "risk.E020"),
        ("FINGERPRINT_SEALED_KEYS", 42, "risk.E009"),
        ("FINGERPRINT_SEALED_KEYS", ["c2hvcnQ="], "risk.E006"),
    ],
)
def test_a_value_that_does_not_parse_or_validate_is_named(db, settings, name, value, error):
    setattr(settings, name, value)
    messages = [m for m in run_checks() if m.id == error]
    assert messages, risk_ids()
    assert any(name in m.msg for m in messages)


def test_the_hard_limit_below_the_soft_one_is_an_error(db, settings):
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 5
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = 3
    assert risk_ids() == {"risk.E007"}


def test_v3_is_flagged_as_deprecated(db, settings):
    settings.FINGERPRINT_API_VERSION = "v3"
    assert risk_ids() == {"risk.W002"}


def test_development_without_a_key_warns_about_the_sandbox(db, settings):
    settings.DEBUG = True
    settings.FINGERPRINT_SECRET_API_KEY = ""
    assert risk_ids() == {"risk.W001"}


@pytest.mark.parametrize(
    ("key", "url", "opt_in", "expected"),
    [
        ("real-key", "", False, set()),
        ("real-key", "https://eu.api.fpjs.io", False, set()),
        ("", "", False, {"risk.E001"}),
        ("", "http://127.0.0.1:8100", False, {"risk.E011", "risk.E012"}),
        ("sandbox-secret-key", "https://sandbox.example.com", False, {"risk.E011"}),
        ("real-key", "http://fingerprint.internal", False, {"risk.E012"}),
        ("", "http://127.0.0.1:8100", True, set()),  # a benchmark that says so
        ("", "http://10.0.0.5:8100", True, {"risk.E011", "risk.E012"}),  # not this machine
    ],
)
def test_production_needs_a_real_key_over_https(db, production, key, url, opt_in, expected):
    production.FINGERPRINT_SECRET_API_KEY, production.FINGERPRINT_API_URL = key, url
    production.FINGERPRINT_SANDBOX_IN_PRODUCTION = opt_in
    assert risk_ids() == expected


@pytest.mark.parametrize(
    ("secret_key", "weak"),
    [
        ("changeme", True),
        ("django-insecure-" + "x1y2z3" * 10, True),
        ("a" * 60, True),  # long, but one character
        ("x7Qm2vX9pL4rT8wK1nB6cH3jF5dS0gYzA-q9Wm3nR5tV8yB2cE6fH1jK4lM7pQ0s", False),
    ],
)
def test_production_needs_a_strong_secret_key(db, production, secret_key, weak):
    production.SECRET_KEY = secret_key
    assert ("risk.E013" in risk_ids()) is weak


def test_refuse_unsafe_production_raises_with_every_problem(production):
    from django.core.exceptions import ImproperlyConfigured

    production.FINGERPRINT_SECRET_API_KEY = ""
    production.SECRET_KEY = "changeme"
    with pytest.raises(ImproperlyConfigured, match=r"risk\.E001.*risk\.E013"):
        checks.refuse_unsafe_production()


def test_otp_required_without_django_otp_installed_is_an_error(db, settings):
    settings.REVIEW_REQUIRE_OTP = True
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if not a.startswith("django_otp")]
    assert risk_ids() == {"risk.E031"}


@pytest.mark.django_db(transaction=True)
def test_an_unusable_cache_is_an_error_but_does_not_stop_migrate(settings):
    """The database cache's table missing (dropped here): `check` says so; the checks that
    `migrate` runs (with `databases`) do not, since migrate creates it."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE fpdjango_cache")
    try:
        assert "risk.E030" in risk_ids()
        assert "risk.E030" not in risk_ids(databases=["default"])
    finally:
        from django.core.management import call_command

        call_command("createcachetable", verbosity=0)
    assert "risk.E030" not in risk_ids()


def test_each_check_id_is_emitted_by_one_function_and_documented():
    owners: dict[str, set[str]] = {}
    for name, func in inspect.getmembers(checks, inspect.isfunction):
        for found in re.findall(r'id="(risk\.[EW]\d{3})"', inspect.getsource(func)):
            owners.setdefault(found, set()).add(name)
    owners.pop("risk.E002", None)  # setting values: one function maps a setting to its id
    assert owners, "no check ids found"
    assert {i: o for i, o in owners.items() if len(o) > 1} == {}
    for check_id in owners:
        assert check_id in checks.__doc__


# --- deployment checks: `manage.py check --deploy` ----------------------------------------------


@pytest.mark.parametrize(
    ("debug", "origins", "expected"),
    [(False, [], {"risk.W010"}), (False, ["https://a.example"], set()), (True, [], set())],
)
def test_empty_origins_in_production_warns(db, production, debug, origins, expected):
    production.DEBUG, production.RISK_ALLOWED_ORIGINS = debug, origins
    found = risk_ids(include_deployment_checks=True) - {"risk.E010"}
    assert found == expected


def test_the_sandbox_app_in_production_is_an_error(db, production):
    assert "risk.E010" in risk_ids(include_deployment_checks=True)  # the test settings have it
    production.INSTALLED_APPS = [a for a in production.INSTALLED_APPS if a != "sandbox"]
    assert "risk.E010" not in risk_ids(include_deployment_checks=True)


def test_check_deploy_passes_with_production_settings(db):
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_names_what_is_wrong(db):
    result = check_deploy(
        SANDBOX_ENABLED="1",
        FINGERPRINT_SECRET_API_KEY="",
        FINGERPRINT_API_URL="http://127.0.0.1:8100",
        RISK_ALLOWED_ORIGINS="",
        DJANGO_SECURE_HSTS_SECONDS="0",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for check_id in ("risk.E010", "risk.W010", "risk.E011", "risk.E012", "security.W004"):
        assert check_id in output, output
