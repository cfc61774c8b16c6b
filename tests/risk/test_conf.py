"""risk/conf.py: one table of settings, given as Django settings with defaults in code, read
through one accessor; the README's table is generated from it."""

import re
from pathlib import Path

import pytest
from django.test import override_settings

from risk.conf import BY_NAME, SETTINGS, rate_parse, resolve, risk_settings, settings_table_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


class Given:
    """A host's settings module: only what it sets."""

    def __init__(self, **values):
        self.__dict__.update(values)


def test_every_setting_has_a_kind_a_default_a_meaning_and_a_field():
    fields = set()
    for setting in SETTINGS:
        assert setting.kind in ("str", "int", "float", "bool", "list", "rate"), setting.name
        assert setting.help and setting.field, setting.name
        assert setting.name.startswith(("FINGERPRINT_", "RISK_", "SIGNUP_", "REVIEW_"))
        fields.add(setting.field)
    assert len(fields) == len(SETTINGS)


def test_a_host_that_sets_nothing_gets_the_documented_defaults():
    cfg = resolve(Given())
    for setting in SETTINGS:
        if setting.default is not None and setting.name != "FINGERPRINT_SECRET_API_KEY":
            assert getattr(cfg, setting.field) == setting.default, setting.name
    assert cfg.throttle_rate == "300/hour" and cfg.throttle_visitor_rate == "10/hour"
    assert cfg.uses_sandbox and cfg.api_url == BY_NAME["FINGERPRINT_SANDBOX_URL"].default
    assert cfg.require_otp is True  # production (no DEBUG): on
    assert resolve(Given(DEBUG=True)).require_otp is False


def test_values_come_typed_from_python_or_text():
    given = Given(
        RISK_MAX_ACCOUNTS_PER_DEVICE="3",
        RISK_MIN_CONFIDENCE=0.7,
        RISK_CHECK_IP="0",
        RISK_ALLOWED_ORIGINS="https://a.example, https://b.example/",
        FINGERPRINT_SEALED_KEYS=["k1", "k2"],
        FINGERPRINT_REGION="EU",
        FINGERPRINT_SECRET_API_KEY="k",
    )
    cfg = resolve(given)
    assert cfg.max_accounts_per_device == 3 and cfg.min_confidence == 0.7
    assert cfg.check_ip is False
    assert cfg.allowed_origins == ("https://a.example", "https://b.example")
    assert cfg.sealed_keys == ("k1", "k2")
    assert cfg.region == "eu" and cfg.api_url == "https://eu.api.fpjs.io"


def test_the_old_name_is_still_accepted_and_the_new_name_wins():
    assert resolve(Given(TRUSTED_PROXY_COUNT="2")).trusted_proxy_count == 2
    both = Given(TRUSTED_PROXY_COUNT=2, RISK_TRUSTED_PROXY_COUNT=1)
    assert resolve(both).trusted_proxy_count == 1


def test_a_value_that_does_not_parse_falls_back_to_the_default_and_never_reaches_int():
    cfg = resolve(Given(FINGERPRINT_TIMEOUT_S="soon", RISK_MAX_ACCOUNTS_PER_DEVICE=0))
    assert cfg.timeout_s == BY_NAME["FINGERPRINT_TIMEOUT_S"].default
    assert cfg.max_accounts_per_device == 1  # 0 is below its minimum: the check names it


def test_the_accessor_follows_setting_changes():
    before = risk_settings()
    with override_settings(RISK_MAX_ACCOUNTS_PER_DEVICE=4):
        assert risk_settings().max_accounts_per_device == 4
    assert risk_settings() == before


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("20/min", (20, 60)), ("300/hour", (300, 3600)), ("5/10s", (5, 10)), ("", None)],
)
def test_rates(rate, parsed):
    assert rate_parse(rate) == parsed


@pytest.mark.parametrize("rate", ["lots", "0/min", "5/fortnight", "/h"])
def test_rates_that_are_not_rates(rate):
    with pytest.raises(ValueError):
        rate_parse(rate)


def test_readme_settings_table_is_the_generated_one():
    text = README.read_text()
    match = re.search(
        r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S
    )
    assert match, "README.md lacks the settings-table markers"
    assert match.group(1).strip() == settings_table_markdown(), (
        "README's settings table is out of date: run `python manage.py settings_table --write`"
    )
