"""Deployment checks (`manage.py check --deploy`): sandbox, origins allow-list, real key."""

import pytest

from risk.checks import (
    check_allowed_origins_in_production,
    check_real_key_in_production,
    check_sandbox_not_in_production,
)
from tests.test_production import check_deploy


def ids(messages):
    return [message.id for message in messages]


@pytest.mark.parametrize(
    ("debug", "sandbox", "expected"),
    [(False, True, ["risk.E010"]), (False, False, []), (True, True, [])],
)
def test_sandbox_with_debug_off_is_an_error(settings, debug, sandbox, expected):
    settings.DEBUG, settings.SANDBOX_ENABLED = debug, sandbox
    assert ids(check_sandbox_not_in_production()) == expected


@pytest.mark.parametrize(
    ("debug", "origins", "expected"),
    [(False, [], ["risk.W010"]), (False, ["https://a.example"], []), (True, [], [])],
)
def test_empty_origins_in_production_warns(settings, debug, origins, expected):
    settings.DEBUG, settings.RISK_ALLOWED_ORIGINS = debug, origins
    assert ids(check_allowed_origins_in_production()) == expected


@pytest.mark.parametrize(
    ("key", "url", "opt_in", "expected"),
    [
        ("", "http://127.0.0.1:8100", False, ["risk.E011"]),
        ("sandbox-secret-key", "http://127.0.0.1:8100", False, ["risk.E011"]),
        ("", "http://127.0.0.1:8100", True, []),  # a benchmark that says so
        ("real-key", "https://eu.api.fpjs.io", False, []),
        ("", "", False, []),  # risk.E001's case
    ],
)
def test_no_real_key_with_an_api_url_is_an_error_in_production(
    settings, key, url, opt_in, expected
):
    settings.DEBUG = False
    settings.FINGERPRINT_SECRET_API_KEY, settings.FINGERPRINT_API_URL = key, url
    settings.FINGERPRINT_SANDBOX_IN_PRODUCTION = opt_in
    assert ids(check_real_key_in_production()) == expected


def test_development_may_use_the_sandbox_without_a_key(settings):
    settings.DEBUG = True
    settings.FINGERPRINT_SECRET_API_KEY, settings.FINGERPRINT_API_URL = "", "http://x:1"
    assert check_real_key_in_production() == []


def test_check_deploy_command_reports_the_new_checks():
    result = check_deploy(
        SANDBOX_ENABLED="1",
        FINGERPRINT_SECRET_API_KEY="",
        FINGERPRINT_API_URL="http://127.0.0.1:8100",
        RISK_ALLOWED_ORIGINS="",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for check_id in ("risk.E010", "risk.W010", "risk.E011"):
        assert check_id in output, output


def test_check_deploy_benchmark_opt_in_leaves_only_the_warning():
    result = check_deploy(
        FINGERPRINT_SECRET_API_KEY="",
        FINGERPRINT_API_URL="http://127.0.0.1:8100",
        FINGERPRINT_SANDBOX_IN_PRODUCTION="1",
        RISK_ALLOWED_ORIGINS="https://signup.example.com",
    )
    output = result.stdout + result.stderr
    assert "risk.E011" not in output and "risk.E010" not in output
    assert "risk.W003" in output  # still said, as a warning
