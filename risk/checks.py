"""Django system checks: misconfiguration is reported at startup, not at the first signup."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from risk.conf import API_VERSIONS, FAILURE_POLICIES, REGION_API_URLS, SANDBOX_SECRET_API_KEY
from risk.fingerprint.origins import normalise_origin
from risk.fingerprint.sealed import SealedResultError, decode_key


def _number(name: str, minimum: float, maximum: float | None = None) -> list[Error]:
    value = getattr(settings, name, None)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return [Error(f"{name} must be a number, got {value!r}.", id="risk.E004", obj=name)]
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        return [Error(f"{name} must be {bounds}, got {value!r}.", id="risk.E004", obj=name)]
    return []


# DRN settings: name, minimum, maximum (a 0 budget means no lookup at signup, only the backfill)
DRN_NUMBERS = (
    ("FINGERPRINT_DRN_CACHE_S", 0, None),
    ("FINGERPRINT_DRN_RPS", 0.01, 1000),
    ("FINGERPRINT_DRN_SIGNUP_BUDGET_S", 0, 10),
    ("RISK_DRN_NEW_DEVICE_MINUTES", 0, None),
    ("RISK_DRN_PERCENTILE_REVIEW", 0.01, 1),
)


@register(Tags.security, deploy=False)
def check_fingerprint_settings(app_configs=None, **kwargs):
    messages = []
    if not settings.FINGERPRINT_SECRET_API_KEY:
        if settings.DEBUG:
            messages.append(
                Warning(
                    "FINGERPRINT_SECRET_API_KEY is not set: signups are checked against the "
                    "local Fingerprint sandbox.",
                    hint="Set FINGERPRINT_SECRET_API_KEY to use Fingerprint.",
                    id="risk.W001",
                )
            )
        elif settings.FINGERPRINT_API_URL:
            messages.append(
                Warning(
                    "FINGERPRINT_SECRET_API_KEY is not set: the sandbox's public test key is "
                    f"sent to FINGERPRINT_API_URL ({settings.FINGERPRINT_API_URL}).",
                    hint="Fine for a sandbox or a benchmark; set the key for real Fingerprint.",
                    id="risk.W003",
                )
            )
        else:
            messages.append(
                Error(
                    "FINGERPRINT_SECRET_API_KEY is not set.",
                    hint="Set it to your workspace's secret API key (Dashboard > API keys), or "
                    "point FINGERPRINT_API_URL at a sandbox for testing.",
                    id="risk.E001",
                )
            )
    if str(settings.FINGERPRINT_REGION).lower() not in REGION_API_URLS:
        messages.append(
            Error(
                f"FINGERPRINT_REGION must be one of {', '.join(REGION_API_URLS)}, "
                f"got {settings.FINGERPRINT_REGION!r}.",
                id="risk.E002",
            )
        )
    if str(settings.FINGERPRINT_API_VERSION).lower() not in API_VERSIONS:
        messages.append(
            Error(
                "FINGERPRINT_API_VERSION must be v4 or v3, "
                f"got {settings.FINGERPRINT_API_VERSION!r}.",
                id="risk.E002",
            )
        )
    elif str(settings.FINGERPRINT_API_VERSION).lower() == "v3":
        messages.append(
            Warning(
                "FINGERPRINT_API_VERSION=v3: Server API v3 is deprecated and is switched off on "
                "2027-01-07.",
                hint="Move to v4 (the default); stored v3 snapshots stay readable.",
                id="risk.W002",
            )
        )
    if str(settings.FINGERPRINT_FAILURE_POLICY).lower() not in FAILURE_POLICIES:
        messages.append(
            Error(
                "FINGERPRINT_FAILURE_POLICY must be 'review' or 'deny', "
                f"got {settings.FINGERPRINT_FAILURE_POLICY!r}.",
                id="risk.E003",
            )
        )
    if settings.FINGERPRINT_API_URL and not normalise_origin(settings.FINGERPRINT_API_URL):
        messages.append(
            Error(
                "FINGERPRINT_API_URL must be an http(s) URL, "
                f"got {settings.FINGERPRINT_API_URL!r}.",
                id="risk.E005",
            )
        )
    for origin in settings.RISK_ALLOWED_ORIGINS:
        if not normalise_origin(origin):
            messages.append(
                Error(
                    f"RISK_ALLOWED_ORIGINS entry {origin!r} is not an origin like "
                    "https://example.com.",
                    id="risk.E005",
                )
            )
    for key in getattr(settings, "FINGERPRINT_SEALED_KEYS", []):
        try:
            decode_key(key)
        except SealedResultError:
            messages.append(
                Error(
                    "FINGERPRINT_SEALED_KEYS holds a value that is not a base64 32-byte key.",
                    hint="Copy the encryption key from Dashboard > Sealed client results.",
                    id="risk.E006",
                )
            )
    messages += _number("FINGERPRINT_TIMEOUT_S", 0.05, 60)
    messages += _number("FINGERPRINT_CONNECT_TIMEOUT_S", 0.05, 60)
    messages += _number("FINGERPRINT_MAX_RETRIES", 0, 10)
    messages += _number("RISK_MAX_ACCOUNTS_PER_DEVICE", 1)
    messages += _number("RISK_MAX_EVENT_AGE_S", 1)
    messages += _number("RISK_MIN_CONFIDENCE", 0, 1)
    messages += _number("RISK_SUSPECT_SCORE_REVIEW", 0)
    messages += _number("TRUSTED_PROXY_COUNT", 0, 10)
    drn_url = getattr(settings, "FINGERPRINT_DRN_API_URL", "")
    if drn_url and not normalise_origin(drn_url):
        messages.append(
            Error(
                f"FINGERPRINT_DRN_API_URL must be an http(s) URL, got {drn_url!r}.", id="risk.E005"
            )
        )
    for name, low, high in DRN_NUMBERS:
        if hasattr(settings, name):
            messages += _number(name, low, high)
    return messages


# --- deployment checks (`manage.py check --deploy`, run by bin/serve) --------------------------


@register(Tags.security, deploy=True)
def check_sandbox_not_in_production(app_configs=None, **kwargs):
    """The sandbox is a fake Fingerprint that answers whatever it is told."""
    if getattr(settings, "SANDBOX_ENABLED", False) and not settings.DEBUG:
        return [
            Error(
                "SANDBOX_ENABLED is on while DJANGO_DEBUG is off: the Fingerprint simulator "
                "is installed in a production configuration.",
                hint="Unset SANDBOX_ENABLED (it follows DJANGO_DEBUG by default).",
                id="risk.E010",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_allowed_origins_in_production(app_configs=None, **kwargs):
    """Without an allow-list, an event made on any site (an attacker's copy of the signup
    page) passes the origin check."""
    if not settings.DEBUG and not getattr(settings, "RISK_ALLOWED_ORIGINS", []):
        return [
            Warning(
                "RISK_ALLOWED_ORIGINS is empty: events identified on any website are accepted.",
                hint="Set it to the origins of your signup pages, e.g. https://example.com.",
                id="risk.W010",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_real_key_in_production(app_configs=None, **kwargs):
    """No key (or the sandbox's public one) with an API URL means signups are checked by a
    sandbox: fine for a benchmark that says so, never for production (risk.W003 otherwise)."""
    key = getattr(settings, "FINGERPRINT_SECRET_API_KEY", "")
    if settings.DEBUG or not getattr(settings, "FINGERPRINT_API_URL", ""):
        return []  # development, or no URL (risk.E001 already covers a missing key)
    if key and key != SANDBOX_SECRET_API_KEY:
        return []
    if getattr(settings, "FINGERPRINT_SANDBOX_IN_PRODUCTION", False):
        return []
    return [
        Error(
            "FINGERPRINT_SECRET_API_KEY is missing (or is the sandbox's public test key) while "
            f"FINGERPRINT_API_URL is set ({settings.FINGERPRINT_API_URL}): signups would be "
            "checked by a sandbox, not by Fingerprint.",
            hint="Set your workspace's secret key. For a benchmark against the sandbox, set "
            "FINGERPRINT_SANDBOX_IN_PRODUCTION=1.",
            id="risk.E011",
        )
    ]
