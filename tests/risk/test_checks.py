"""System checks name misconfiguration clearly, at startup."""

import pytest

from risk.checks import check_fingerprint_settings


def ids(messages):
    return {message.id for message in messages}


def test_defaults_are_valid_with_a_key(settings):
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    assert check_fingerprint_settings() == []


def test_missing_key_in_production_is_an_error(settings):
    settings.DEBUG = False
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    messages = check_fingerprint_settings()
    assert "risk.E001" in ids(messages)
    assert "FINGERPRINT_SECRET_API_KEY" in next(m.msg for m in messages if m.id == "risk.E001")


def test_missing_key_in_production_with_a_sandbox_url_warns(settings):
    settings.DEBUG = False
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = "http://127.0.0.1:8100"
    assert ids(check_fingerprint_settings()) == {"risk.W003"}


def test_missing_key_in_development_warns_about_the_sandbox(settings):
    settings.DEBUG = True
    settings.FINGERPRINT_SECRET_API_KEY = ""
    assert ids(check_fingerprint_settings()) == {"risk.W001"}


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
        ("RISK_TRUSTED_PROXY_COUNT", -1, "risk.E003"),
        ("RISK_MAX_ACCOUNTS_PER_DEVICE_HARD", 0, "risk.E003"),
        ("FINGERPRINT_SEALED_KEYS", ["c2hvcnQ="], "risk.E006"),
    ],
)
def test_nonsense_values(settings, name, value, error):
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    setattr(settings, name, value)
    messages = check_fingerprint_settings()
    assert error in ids(messages)
    assert any(name in message.msg for message in messages)


def test_v3_is_flagged_as_deprecated(settings):
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    settings.FINGERPRINT_API_VERSION = "v3"
    assert "risk.W002" in ids(check_fingerprint_settings())


def test_hard_limit_below_the_soft_limit_is_an_error(settings):
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE = 5
    settings.RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = 3
    assert ids(check_fingerprint_settings()) == {"risk.E007"}


def test_each_check_id_belongs_to_one_check_function():
    """Ids are unique per check: the module docstring lists each once, and no two
    functions emit the same id."""
    import inspect
    import re

    from risk import checks

    owners: dict[str, set[str]] = {}
    for name, func in inspect.getmembers(checks, inspect.isfunction):
        if name.startswith("check_") and name != "check_fingerprint_settings":
            for found in re.findall(r'id="(risk\.[EW]\d{3})"', inspect.getsource(func)):
                owners.setdefault(found, set()).add(name)
    assert owners, "no check ids found"
    assert {i: o for i, o in owners.items() if len(o) > 1} == {}
    for check_id in owners:
        assert check_id in checks.__doc__
