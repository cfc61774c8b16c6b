"""A production process refuses to start when it would talk to a sandbox, send the secret key
over plain http, or sign with a weak SECRET_KEY (risk.checks.production_problems)."""

import pytest

from tests.support.production import manage

IMPORT_WSGI = "import fpdjango.wsgi"


def start(**env: str):
    return manage("shell", "-c", IMPORT_WSGI, **env)


def test_a_sound_production_configuration_starts():
    result = start()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "check_id"),
    [
        ({"FINGERPRINT_SECRET_API_KEY": ""}, "risk.E001"),
        ({"FINGERPRINT_API_URL": "http://fingerprint.internal:8080"}, "risk.E012"),
        (
            {"FINGERPRINT_SECRET_API_KEY": "", "FINGERPRINT_API_URL": "http://127.0.0.1:8100"},
            "risk.E011",
        ),
        ({"DJANGO_SECRET_KEY": "changeme"}, "risk.E013"),
    ],
)
def test_an_unsafe_production_configuration_does_not_start(env, check_id):
    result = start(**env)
    assert result.returncode != 0
    assert "refusing to start in production" in result.stderr and check_id in result.stderr


def test_a_local_sandbox_starts_only_when_opted_in():
    sandbox = {"FINGERPRINT_SECRET_API_KEY": "", "FINGERPRINT_API_URL": "http://127.0.0.1:8100"}
    assert start(**sandbox, FINGERPRINT_SANDBOX_IN_PRODUCTION="1").returncode == 0
    remote = {**sandbox, "FINGERPRINT_API_URL": "http://sandbox.example.com:8100"}
    result = start(**remote, FINGERPRINT_SANDBOX_IN_PRODUCTION="1")
    assert result.returncode != 0 and "risk.E012" in result.stderr
