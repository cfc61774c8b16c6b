"""Every setting of the risk app, resolved in one place with its default.

Read them through `risk_settings()` at call time (not import time) so that tests and
`override_settings` see changes. Validation lives in `risk/checks.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from risk.fingerprint.origins import normalise_origin

REGION_API_URLS = {
    "us": "https://api.fpjs.io",
    "eu": "https://eu.api.fpjs.io",
    "ap": "https://ap.api.fpjs.io",
}
DRN_API_URL = "https://drn-api.fpjs.io"
# The sandbox accepts this key by default (see docs/sandbox.md); it is not a secret.
SANDBOX_SECRET_API_KEY = "sandbox-secret-key"
SANDBOX_PUBLIC_API_KEY = "sandbox-public-key"
FAILURE_POLICIES = ("review", "deny")
API_VERSIONS = ("v4", "v3")


@dataclass(frozen=True)
class RiskSettings:
    secret_api_key: str
    api_url: str
    api_version: str
    region: str
    timeout_s: float
    connect_timeout_s: float
    max_retries: int
    failure_policy: str
    uses_sandbox: bool
    max_accounts_per_device: int
    max_event_age_s: int
    min_confidence: float
    suspect_score_review: int
    allowed_origins: tuple[str, ...]
    check_ip: bool
    trusted_proxy_count: int
    # Device Reputation Network (defaults here keep hand-built settings in tests short)
    drn_api_url: str = DRN_API_URL
    drn_cache_s: int = 3600
    drn_rps: float = 5.0
    drn_signup_budget_s: float = 0.5
    drn_new_device_minutes: int = 60
    drn_percentile_review: float = 0.95
    drn_location_masked_review: bool = True
    sealed_keys: tuple[str, ...] = ()  # base64 AES-256 keys for sealed client results
    # Past the soft limit a clean, established device is held; past this one it is denied.
    max_accounts_per_device_hard: int = 10


def _get(name: str, default):
    return getattr(settings, name, default)


def risk_settings() -> RiskSettings:
    secret = _get("FINGERPRINT_SECRET_API_KEY", "") or ""
    region = (_get("FINGERPRINT_REGION", "us") or "us").lower()
    explicit_url = _get("FINGERPRINT_API_URL", "") or ""
    # No key configured: talk to the local sandbox (checks.py makes this an error in production).
    uses_sandbox = not secret
    if uses_sandbox:
        secret = SANDBOX_SECRET_API_KEY
        api_url = explicit_url or _get("FINGERPRINT_SANDBOX_URL", "http://127.0.0.1:8100")
    else:
        api_url = explicit_url or REGION_API_URLS.get(region, REGION_API_URLS["us"])
    # DRN has one global host. The sandbox serves it next to the Server API, so with no key
    # (or the sandbox's well-known key, which Fingerprint would refuse anyway) use that root.
    drn_url = _get("FINGERPRINT_DRN_API_URL", "") or ""
    if not drn_url:
        drn_url = api_url if uses_sandbox or secret == SANDBOX_SECRET_API_KEY else DRN_API_URL
    return RiskSettings(
        secret_api_key=secret,
        api_url=api_url.rstrip("/"),
        api_version=(_get("FINGERPRINT_API_VERSION", "v4") or "v4").lower(),
        region=region,
        timeout_s=float(_get("FINGERPRINT_TIMEOUT_S", 2.0)),
        connect_timeout_s=float(_get("FINGERPRINT_CONNECT_TIMEOUT_S", 1.0)),
        max_retries=int(_get("FINGERPRINT_MAX_RETRIES", 2)),
        failure_policy=(_get("FINGERPRINT_FAILURE_POLICY", "review") or "review").lower(),
        uses_sandbox=uses_sandbox,
        max_accounts_per_device=int(_get("RISK_MAX_ACCOUNTS_PER_DEVICE", 1)),
        max_event_age_s=int(_get("RISK_MAX_EVENT_AGE_S", 60)),
        min_confidence=float(_get("RISK_MIN_CONFIDENCE", 0.5)),
        suspect_score_review=int(_get("RISK_SUSPECT_SCORE_REVIEW", 10)),
        allowed_origins=tuple(
            normalise_origin(origin) or origin for origin in _get("RISK_ALLOWED_ORIGINS", [])
        ),
        check_ip=bool(_get("RISK_CHECK_IP", True)),
        trusted_proxy_count=int(_get("TRUSTED_PROXY_COUNT", 0)),
        drn_api_url=drn_url.rstrip("/"),
        drn_cache_s=int(_get("FINGERPRINT_DRN_CACHE_S", 3600)),
        drn_rps=float(_get("FINGERPRINT_DRN_RPS", 5.0)),
        drn_signup_budget_s=float(_get("FINGERPRINT_DRN_SIGNUP_BUDGET_S", 0.5)),
        drn_new_device_minutes=int(_get("RISK_DRN_NEW_DEVICE_MINUTES", 60)),
        drn_percentile_review=float(_get("RISK_DRN_PERCENTILE_REVIEW", 0.95)),
        drn_location_masked_review=bool(_get("RISK_DRN_LOCATION_MASKED_REVIEW", True)),
        sealed_keys=tuple(key for key in _get("FINGERPRINT_SEALED_KEYS", []) if key),
        max_accounts_per_device_hard=int(_get("RISK_MAX_ACCOUNTS_PER_DEVICE_HARD", 10)),
    )
