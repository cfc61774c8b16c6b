"""The DRN settings (risk/conf.py): defaults, the API URL they resolve to, their checks."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command

from risk.conf import DRN_API_URL, risk_settings

pytestmark = pytest.mark.django_db


def test_drn_url_follows_the_sandbox_or_drns_host(settings):
    settings.FINGERPRINT_SECRET_API_KEY = ""
    settings.FINGERPRINT_API_URL = ""
    settings.FINGERPRINT_DRN_API_URL = ""
    settings.FINGERPRINT_SANDBOX_URL = "http://127.0.0.1:8100"
    assert risk_settings().drn_api_url == "http://127.0.0.1:8100"
    settings.FINGERPRINT_SECRET_API_KEY = "a-real-key"
    assert risk_settings().drn_api_url == DRN_API_URL == "https://drn-api.fpjs.io"
    settings.FINGERPRINT_DRN_API_URL = "https://drn-proxy.example/"
    assert risk_settings().drn_api_url == "https://drn-proxy.example"


def test_drn_defaults_and_checks(settings):
    cfg = risk_settings()
    assert (cfg.drn_cache_s, cfg.drn_rps, cfg.drn_signup_budget_s) == (3600, 5.0, 0.5)
    assert (cfg.drn_new_device_minutes, cfg.drn_percentile_review) == (60, 0.95)
    assert cfg.drn_location_masked_review is True
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    assert [m for m in run_checks() if m.id.startswith("risk.")] == []
    settings.FINGERPRINT_DRN_RPS = 0
    settings.RISK_DRN_PERCENTILE_REVIEW = 95
    settings.FINGERPRINT_DRN_API_URL = "drn-api.fpjs.io"
    messages = {m.obj: m.id for m in run_checks() if m.id.startswith("risk.")}
    assert messages == {
        "FINGERPRINT_DRN_RPS": "risk.E003",
        "RISK_DRN_PERCENTILE_REVIEW": "risk.E003",
        "FINGERPRINT_DRN_API_URL": "risk.E004",
    }


def test_manage_check_passes_with_drn_defaults(settings):
    settings.FINGERPRINT_SECRET_API_KEY = "k"
    assert [m for m in run_checks() if m.id.startswith("risk.")] == []
    call_command("check")  # and the whole project's checks do not raise
