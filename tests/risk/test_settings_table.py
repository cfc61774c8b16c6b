"""The settings table in risk/conf.py is the one source: environment parsing, aliases,
defaults in RiskSettings, and the README's table."""

import re
from pathlib import Path

from risk.conf import BY_NAME, SETTINGS, resolve, settings_from_environ, settings_table_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_has_a_known_kind_and_a_default_of_that_kind():
    for setting in SETTINGS:
        assert setting.kind in ("str", "int", "float", "bool", "list"), setting.name
        assert setting.help, setting.name
        assert setting.name.startswith(("FINGERPRINT_", "RISK_", "SIGNUP_", "REVIEW_")), (
            setting.name
        )


def test_environment_values_are_typed():
    values = settings_from_environ(
        {
            "RISK_MAX_ACCOUNTS_PER_DEVICE": "3",
            "RISK_MIN_CONFIDENCE": "0.7",
            "RISK_CHECK_IP": "0",
            "RISK_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert values["RISK_MAX_ACCOUNTS_PER_DEVICE"] == 3
    assert values["RISK_MIN_CONFIDENCE"] == 0.7
    assert values["RISK_CHECK_IP"] is False
    assert values["RISK_ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert values["FINGERPRINT_DRN_CACHE_S"] == 3600  # the default, written once


def test_old_names_are_still_accepted_and_the_new_name_wins():
    assert settings_from_environ({"TRUSTED_PROXY_COUNT": "2"})["RISK_TRUSTED_PROXY_COUNT"] == 2
    both = {"TRUSTED_PROXY_COUNT": "2", "RISK_TRUSTED_PROXY_COUNT": "1"}
    assert settings_from_environ(both)["RISK_TRUSTED_PROXY_COUNT"] == 1


def test_a_value_that_does_not_parse_is_kept_for_the_checks_and_the_default_is_used():
    values = settings_from_environ({"FINGERPRINT_TIMEOUT_S": "soon"})
    assert values["FINGERPRINT_TIMEOUT_S"] == "soon"  # risk.E003 names it

    class Source:
        FINGERPRINT_TIMEOUT_S = "soon"

    assert resolve(Source()).timeout_s == BY_NAME["FINGERPRINT_TIMEOUT_S"].default


def test_resolved_defaults_come_from_the_table():
    cfg = resolve(None)
    for setting in SETTINGS:
        if setting.field and setting.kind in ("int", "float", "bool"):
            assert getattr(cfg, setting.field) == setting.default, setting.name
    assert cfg.uses_sandbox and cfg.api_url == BY_NAME["FINGERPRINT_SANDBOX_URL"].default


def test_readme_settings_table_is_the_generated_one():
    text = README.read_text()
    match = re.search(
        r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S
    )
    assert match, "README.md lacks the settings-table markers"
    assert match.group(1).strip() == settings_table_markdown(), (
        "README's settings table is out of date: run `python manage.py settings_table` and "
        "paste its output between the markers"
    )
