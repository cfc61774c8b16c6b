"""Django system checks over the settings table in `risk/conf.py`: misconfiguration is reported
at startup, not at the first signup. One focused check per kind of mistake, each with its own id:

risk.E001 no secret key in production      risk.W001 sandbox in development
risk.E002 a value outside its choices      risk.W002 legacy Server API v3
risk.E003 a number that is not one, or out of range
risk.E004 a URL that is not http(s)        risk.W003 no key, an API URL set, in production
risk.E005 an entry that is not an origin
risk.E006 a sealed-result key that is not a base64 32-byte key
risk.E007 the hard device limit below the soft one
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from risk.conf import SETTINGS
from risk.fingerprint.origins import normalise_origin
from risk.fingerprint.sealed import SealedResultError, decode_key


def _value(name: str):
    return getattr(settings, name, None)


@register(Tags.security)
def check_secret_key(app_configs=None, **kwargs):
    if settings.FINGERPRINT_SECRET_API_KEY:
        return []
    if settings.DEBUG:
        return [
            Warning(
                "FINGERPRINT_SECRET_API_KEY is not set: signups are checked against the "
                "local Fingerprint sandbox.",
                hint="Set FINGERPRINT_SECRET_API_KEY to use Fingerprint.",
                id="risk.W001",
            )
        ]
    if settings.FINGERPRINT_API_URL:
        return [
            Warning(
                "FINGERPRINT_SECRET_API_KEY is not set: the sandbox's public test key is "
                f"sent to FINGERPRINT_API_URL ({settings.FINGERPRINT_API_URL}).",
                hint="Fine for a sandbox or a benchmark; set the key for real Fingerprint.",
                id="risk.W003",
            )
        ]
    return [
        Error(
            "FINGERPRINT_SECRET_API_KEY is not set.",
            hint="Set it to your workspace's secret API key (Dashboard > API keys), or "
            "point FINGERPRINT_API_URL at a sandbox for testing.",
            id="risk.E001",
        )
    ]


@register()
def check_choices(app_configs=None, **kwargs):
    messages = []
    for setting in SETTINGS:
        value = _value(setting.name)
        if setting.choices and str(value).lower() not in setting.choices:
            messages.append(
                Error(
                    f"{setting.name} must be one of {', '.join(setting.choices)}, got {value!r}.",
                    id="risk.E002",
                    obj=setting.name,
                )
            )
    if str(_value("FINGERPRINT_API_VERSION")).lower() == "v3":
        messages.append(
            Warning(
                "FINGERPRINT_API_VERSION=v3: Server API v3 is deprecated and is switched off on "
                "2027-01-07.",
                hint="Move to v4 (the default); stored v3 snapshots stay readable.",
                id="risk.W002",
            )
        )
    return messages


@register()
def check_numbers(app_configs=None, **kwargs):
    messages = []
    for setting in SETTINGS:
        if setting.kind not in ("int", "float"):
            continue
        value = _value(setting.name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        low, high = setting.minimum, setting.maximum
        if (
            number is None
            or (low is not None and number < low)
            or (high is not None and number > high)
        ):
            if low is not None and high is not None:
                bounds = f"a number between {low} and {high}"
            elif low is not None:
                bounds = f"a number >= {low}"
            else:
                bounds = "a number"
            messages.append(
                Error(
                    f"{setting.name} must be {bounds}, got {value!r}.",
                    id="risk.E003",
                    obj=setting.name,
                )
            )
    return messages


@register()
def check_urls(app_configs=None, **kwargs):
    return [
        Error(
            f"{s.name} must be an http(s) URL, got {_value(s.name)!r}.", id="risk.E004", obj=s.name
        )
        for s in SETTINGS
        if s.url and _value(s.name) and not normalise_origin(str(_value(s.name)))
    ]


@register()
def check_allowed_origins(app_configs=None, **kwargs):
    return [
        Error(
            f"RISK_ALLOWED_ORIGINS entry {origin!r} is not an origin like https://example.com.",
            id="risk.E005",
            obj="RISK_ALLOWED_ORIGINS",
        )
        for origin in _value("RISK_ALLOWED_ORIGINS") or []
        if not normalise_origin(origin)
    ]


@register(Tags.security)
def check_sealed_keys(app_configs=None, **kwargs):
    messages = []
    for key in _value("FINGERPRINT_SEALED_KEYS") or []:
        try:
            decode_key(key)
        except SealedResultError:
            messages.append(
                Error(
                    "FINGERPRINT_SEALED_KEYS holds a value that is not a base64 32-byte key.",
                    hint="Copy the encryption key from Dashboard > Sealed client results.",
                    id="risk.E006",
                    obj="FINGERPRINT_SEALED_KEYS",
                )
            )
    return messages


@register()
def check_device_limits(app_configs=None, **kwargs):
    soft, hard = _value("RISK_MAX_ACCOUNTS_PER_DEVICE"), _value("RISK_MAX_ACCOUNTS_PER_DEVICE_HARD")
    try:
        below = int(hard) < int(soft)
    except (TypeError, ValueError):
        return []  # check_numbers names it
    if not below:
        return []
    return [
        Error(
            f"RISK_MAX_ACCOUNTS_PER_DEVICE_HARD ({hard}) is below RISK_MAX_ACCOUNTS_PER_DEVICE "
            f"({soft}).",
            hint="The hard limit is where holding for review ends and denying begins.",
            id="risk.E007",
        )
    ]


def check_fingerprint_settings(app_configs=None, **kwargs):
    """Every check above, for tests and callers that want them all at once."""
    return [
        *check_secret_key(),
        *check_choices(),
        *check_numbers(),
        *check_urls(),
        *check_allowed_origins(),
        *check_sealed_keys(),
        *check_device_limits(),
    ]
