"""Django system checks: misconfiguration is reported by `manage.py check`, not at the first
signup. Each kind of mistake has its own id:

risk.E002 a value outside its choices     risk.E003 a number that is not one, or out of range
risk.E004 a URL that is not http(s)       risk.E005 an entry that is not an origin
risk.E006 a sealed-result key that is not a base64 32-byte key
risk.E007 the hard device limit below the soft one
risk.E008 a boolean that is not one       risk.E009 a value of the wrong type
risk.E020 a throttle rate that is not one risk.E030 the cache is unusable (the throttles need it)
risk.E031 REVIEW_REQUIRE_OTP on without django-otp installed
risk.W001 no key in development: the sandbox answers
risk.W002 legacy Server API v3

In production (DEBUG off) a process must not start with these (`production_problems`, which
the reference project's wsgi/asgi/celery modules call; docs/deployment.md):
risk.E001 no Fingerprint secret key       risk.E011 the sandbox's key, or none, with an API URL
risk.E012 a Fingerprint API URL that is not https (the secret key would travel in clear)
risk.E013 a weak Django SECRET_KEY
Only a loopback URL with FINGERPRINT_SANDBOX_IN_PRODUCTION=1 passes E001, E011 and E012 (a
benchmark against a local sandbox says so).

With `check --deploy`:
risk.E010 the sandbox app installed in production   risk.W010 no origin allow-list in production
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from risk.conf import BY_NAME, SANDBOX_SECRET_API_KEY, risk_settings, settings_problems
from risk.fingerprint.sealed import SealedResultError, decode_key

logger = logging.getLogger(__name__)

_KIND_IDS = {"int": "risk.E003", "float": "risk.E003", "bool": "risk.E008", "rate": "risk.E020"}
# Django's own rule for a usable SECRET_KEY (security.W009), enforced as an error here.
_SECRET_KEY_MIN_LENGTH, _SECRET_KEY_MIN_UNIQUE = 50, 5


def _setting_error_id(name: str) -> str:
    setting = BY_NAME[name]
    if setting.choices:
        return "risk.E002"
    if setting.url:
        return "risk.E004"
    if name == "RISK_ALLOWED_ORIGINS":
        return "risk.E005"
    return _KIND_IDS.get(setting.kind, "risk.E009")


@register()
def check_setting_values(app_configs=None, **kwargs):
    """Every setting that does not parse or validate, named with what is wrong."""
    messages = [
        Error(f"{setting.name}: {problem}.", id=_setting_error_id(setting.name), obj=setting.name)
        for setting, problem in settings_problems()
    ]
    from risk.fingerprint.origins import normalise_origin

    origins = BY_NAME["RISK_ALLOWED_ORIGINS"].value(settings)
    messages += [
        Error(
            f"RISK_ALLOWED_ORIGINS entry {origin!r} is not an origin like https://example.com.",
            id="risk.E005",
            obj="RISK_ALLOWED_ORIGINS",
        )
        for origin in origins
        if not normalise_origin(origin)
    ]
    if risk_settings().api_version == "v3":
        messages.append(
            Warning(
                "FINGERPRINT_API_VERSION=v3: Server API v3 is deprecated and is switched off on "
                "2027-01-07.",
                hint="Move to v4 (the default); stored v3 snapshots stay readable.",
                id="risk.W002",
            )
        )
    return messages


@register(Tags.security)
def check_sealed_keys(app_configs=None, **kwargs):
    for key in risk_settings().sealed_keys:
        try:
            decode_key(key)
        except SealedResultError:
            return [
                Error(
                    "FINGERPRINT_SEALED_KEYS holds a value that is not a base64 32-byte key.",
                    hint="Copy the encryption key from Dashboard > Sealed client results.",
                    id="risk.E006",
                    obj="FINGERPRINT_SEALED_KEYS",
                )
            ]
    return []


@register()
def check_device_limits(app_configs=None, **kwargs):
    cfg = risk_settings()
    soft, hard = cfg.max_accounts_per_device, cfg.max_accounts_per_device_hard
    if hard >= soft:
        return []
    return [
        Error(
            f"RISK_MAX_ACCOUNTS_PER_DEVICE_HARD ({hard}) is below RISK_MAX_ACCOUNTS_PER_DEVICE "
            f"({soft}).",
            hint="The hard limit is where holding for review ends and denying begins.",
            id="risk.E007",
        )
    ]


@register(Tags.security)
def check_otp_installed(app_configs=None, **kwargs):
    if not risk_settings().require_otp or apps.is_installed("django_otp"):
        return []
    return [
        Error(
            "REVIEW_REQUIRE_OTP is on (the default in production), but django-otp is not "
            "installed.",
            hint="Add 'django_otp' and 'django_otp.plugins.otp_totp' to INSTALLED_APPS and "
            "django_otp.middleware.OTPMiddleware after AuthenticationMiddleware, or set "
            "REVIEW_REQUIRE_OTP = False to opt out (docs/review-console.md).",
            id="risk.E031",
        )
    ]


@register(Tags.caches)
def check_cache_usable(app_configs=None, databases=None, **kwargs):
    """The signup throttles count in the default cache. `migrate` (which passes `databases`)
    is what creates a database cache's table, so it is not held up by this check."""
    if databases is not None:
        return []
    try:
        cache.get("risk:check")
    except Exception as exc:  # any backend's failure: a missing table, a refused connection
        return [
            Error(
                f"The default cache does not work ({type(exc).__name__}: {exc}); the signup "
                "throttles count in it.",
                hint="Run `manage.py migrate` (it creates a database cache's table), or start "
                "the cache server CACHES points at.",
                id="risk.E030",
            )
        ]
    return []


@register()
def check_development_sandbox(app_configs=None, **kwargs):
    if not settings.DEBUG or not risk_settings().uses_sandbox:
        return []
    return [
        Warning(
            "FINGERPRINT_SECRET_API_KEY is not set: signups are checked against the local "
            "Fingerprint sandbox.",
            hint="Set FINGERPRINT_SECRET_API_KEY to use Fingerprint.",
            id="risk.W001",
        )
    ]


@register(Tags.security)
def check_production(app_configs=None, **kwargs):
    return production_problems()


def production_problems() -> list[Error]:
    """What must stop a production process (DEBUG off) from starting: see the module doc."""
    if settings.DEBUG:
        return []
    cfg = risk_settings()
    local_sandbox = cfg.sandbox_in_production and all(
        _is_loopback(url) for url in (cfg.api_url, cfg.drn_api_url)
    )
    problems = [] if local_sandbox else _fingerprint_target_problems(cfg)
    key = str(getattr(settings, "SECRET_KEY", ""))
    if (
        len(key) < _SECRET_KEY_MIN_LENGTH
        or len(set(key)) < _SECRET_KEY_MIN_UNIQUE
        or key.startswith("django-insecure")
    ):
        problems.append(
            Error(
                f"SECRET_KEY is weak (at least {_SECRET_KEY_MIN_LENGTH} characters, "
                f"{_SECRET_KEY_MIN_UNIQUE} different ones): it signs sessions and keys the "
                "hashes that keep IP addresses out of the throttles' keys.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(50))'",
                id="risk.E013",
            )
        )
    return problems


def _fingerprint_target_problems(cfg) -> list[Error]:
    if cfg.uses_sandbox and not cfg.explicit_api_url:
        return [
            Error(
                "FINGERPRINT_SECRET_API_KEY is not set.",
                hint="Set it to your workspace's secret API key (Dashboard > API keys).",
                id="risk.E001",
            )
        ]
    problems = []
    if cfg.uses_sandbox or cfg.secret_api_key == SANDBOX_SECRET_API_KEY:
        problems.append(
            Error(
                "FINGERPRINT_SECRET_API_KEY is missing (or is the sandbox's public test key) "
                f"while FINGERPRINT_API_URL is set ({cfg.api_url}): signups would be checked "
                "by a sandbox, not by Fingerprint.",
                hint="Set your workspace's secret key. For a benchmark against a sandbox on "
                "this machine, set FINGERPRINT_SANDBOX_IN_PRODUCTION=1.",
                id="risk.E011",
            )
        )
    for name, url in (("FINGERPRINT_API_URL", cfg.api_url), ("DRN", cfg.drn_api_url)):
        if urlsplit(url).scheme != "https":
            problems.append(
                Error(
                    f"{name} {url!r} is not https: the secret key would travel in clear.",
                    hint="Use Fingerprint's https roots (FINGERPRINT_REGION), or a sandbox on a "
                    "loopback address with FINGERPRINT_SANDBOX_IN_PRODUCTION=1.",
                    id="risk.E012",
                )
            )
    return problems


def refuse_unsafe_production() -> None:
    """Raise ImproperlyConfigured when `production_problems()` finds any: call it where a
    production process starts (wsgi.py, asgi.py, the Celery app), after Django's setup."""
    problems = production_problems()
    if problems:
        raise ImproperlyConfigured(
            "refusing to start in production: "
            + "; ".join(f"{p.id}: {p.msg} ({p.hint})" for p in problems)
        )


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- deployment checks (`manage.py check --deploy`) ------------------------------------------


@register(Tags.security, deploy=True)
def check_sandbox_not_in_production(app_configs=None, **kwargs):
    """The sandbox is a fake Fingerprint that answers whatever it is told."""
    if apps.is_installed("sandbox") and not settings.DEBUG:
        return [
            Error(
                "The sandbox app (the Fingerprint simulator) is installed with DEBUG off.",
                hint="Leave 'sandbox' out of INSTALLED_APPS in production (the reference "
                "project: unset SANDBOX_ENABLED, which follows DJANGO_DEBUG).",
                id="risk.E010",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_allowed_origins_in_production(app_configs=None, **kwargs):
    """Without an allow-list, an event made on any site (an attacker's copy of the signup
    page) passes the origin check."""
    if not settings.DEBUG and not risk_settings().allowed_origins:
        return [
            Warning(
                "RISK_ALLOWED_ORIGINS is empty: events identified on any website are accepted.",
                hint="Set it to the origins of your signup pages, e.g. https://example.com.",
                id="risk.W010",
            )
        ]
    return []
