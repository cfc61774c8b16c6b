"""Every setting of fpdjango, in one table: name, type, default, help and validation.

`fpdjango/settings.py` reads the environment through `SETTINGS` (so a default is written once,
here), `risk/checks.py` validates the same rows, and the README's settings table is generated
from it (`python manage.py settings_table`; a test keeps the two equal).

Code reads the values through `risk_settings()` at call time (not import time), so tests and
`override_settings` see changes.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

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

KINDS = ("str", "int", "float", "bool", "list")


@dataclass(frozen=True)
class Setting:
    """One environment variable (and the Django setting of the same name)."""

    name: str
    kind: str  # one of KINDS
    default: Any
    help: str
    field: str = ""  # RiskSettings attribute it feeds ("" = read where it is used)
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    url: bool = False  # an http(s) URL (empty allowed)
    aliases: tuple[str, ...] = ()  # older environment names, still accepted
    secret: bool = False  # never printed
    doc_default: str = ""  # how the README shows a computed default

    def parse(self, raw: str) -> Any:
        """The typed value of an environment string (ValueError when it is not one)."""
        if self.kind == "str":
            return raw
        if self.kind == "int":
            return int(raw)
        if self.kind == "float":
            return float(raw)
        if self.kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"{raw!r} is not a boolean (use 1 or 0)")
        return [part.strip() for part in raw.split(",") if part.strip()]

    def from_environ(self, environ: os._Environ | dict) -> Any:
        """The value from the environment (the new name wins over an alias), or the default.

        A value that does not parse is kept as text, so `manage.py check` names it instead of
        the process dying at import with a bare traceback."""
        for name in (self.name, *self.aliases):
            if name in environ:
                try:
                    return self.parse(environ[name])
                except ValueError:
                    return environ[name]
        return list(self.default) if self.kind == "list" else self.default


def _s(name: str, kind: str, default: Any, help: str, **kw: Any) -> Setting:
    return Setting(name, kind, default, help, **kw)


SETTINGS: tuple[Setting, ...] = (
    # --- Fingerprint Server API ---------------------------------------------------------
    _s("FINGERPRINT_SECRET_API_KEY", "str", "",
       "Server API secret key; empty = use the sandbox. Required in production "
       "(check `risk.E001`)", secret=True, doc_default="empty = use the sandbox"),
    _s("FINGERPRINT_PUBLIC_API_KEY", "str", "",
       "public key for the JS agent on the signup page", doc_default="empty = sandbox agent"),
    _s("FINGERPRINT_REGION", "str", "us", "`us`, `eu` or `ap`: picks the API root",
       field="region", choices=tuple(REGION_API_URLS)),
    _s("FINGERPRINT_API_URL", "str", "",
       "overrides the root URL (e.g. the sandbox); the client appends `/v4/...` or v3 paths",
       url=True, doc_default="region's root"),
    _s("FINGERPRINT_SANDBOX_URL", "str", "http://127.0.0.1:8100",
       "where the sandbox is when no secret key is set", url=True),
    _s("FINGERPRINT_API_VERSION", "str", "v4",
       "`v3` for legacy workspaces (v3 shuts down on 2027-01-07)", field="api_version",
       choices=API_VERSIONS),
    _s("FINGERPRINT_TIMEOUT_S", "float", 2.0,
       "total time budget for one event lookup, retries included", field="timeout_s",
       minimum=0.05, maximum=60),
    _s("FINGERPRINT_CONNECT_TIMEOUT_S", "float", 1.0, "TCP/TLS connect timeout per attempt",
       field="connect_timeout_s", minimum=0.05, maximum=60),
    _s("FINGERPRINT_MAX_RETRIES", "int", 2,
       "retries on connection errors and 5xx (jittered backoff, inside the budget)",
       field="max_retries", minimum=0, maximum=10),
    _s("FINGERPRINT_FAILURE_POLICY", "str", "review",
       "Fingerprint down, slow or rate-limiting: `review` accepts the signup as unverified "
       "(account inactive until the event is verified); `deny` answers 503 with `Retry-After`",
       field="failure_policy", choices=FAILURE_POLICIES),
    _s("FINGERPRINT_SEALED_KEYS", "list", (),
       "comma-separated base64 AES-256 keys; a signup that carries the agent's "
       "`sealed_result` is then opened locally (no API round trip); a blob no key opens is "
       "refused", secret=True, doc_default="empty = off"),
    _s("FINGERPRINT_WEBHOOK_SECRET", "str", "",
       "secret of the Fingerprint webhook; events POSTed to `/api/fingerprint/webhook` with a "
       "valid `FPJS-Event-Signature` are stored", field="webhook_secret", secret=True,
       doc_default="empty = webhook off"),
    _s("FINGERPRINT_WEBHOOK_MAX_BYTES", "int", 512 * 1024,
       "largest webhook body accepted; a larger one is refused with 413 before it is read",
       field="webhook_max_bytes", minimum=1024),
    _s("FINGERPRINT_SANDBOX_IN_PRODUCTION", "bool", False,
       "`1` lets production settings talk to a sandbox without failing check `risk.E011` "
       "(benchmarks only)"),
    # --- Device Reputation Network ------------------------------------------------------
    _s("FINGERPRINT_DRN_API_URL", "str", "",
       "Device Reputation Network root; with no secret key (or the sandbox's key) the "
       "sandbox's root. See [docs/drn.md](docs/drn.md)", url=True,
       doc_default="`https://drn-api.fpjs.io`"),
    _s("FINGERPRINT_DRN_CACHE_S", "int", 3600,
       "a device's DRN answer is reused this long (0 = always ask)", field="drn_cache_s",
       minimum=0),
    _s("FINGERPRINT_DRN_RPS", "float", 5.0,
       "client-side limit on DRN requests per second for the whole deployment (every process "
       "and machine, through Redis; per process without `REDIS_URL`)", field="drn_rps",
       minimum=0.01, maximum=1000),
    _s("FINGERPRINT_DRN_SIGNUP_BUDGET_S", "float", 0.5,
       "time an Android signup may spend on DRN; slower or failing lookups are deferred to a "
       "Celery worker (without a broker: to `backfill_drn`) (0 = always defer)",
       field="drn_signup_budget_s", minimum=0,
       maximum=10),
    # --- Checks ---------------------------------------------------------------------------
    _s("RISK_MAX_EVENT_AGE_S", "int", 60, "older events are refused (`event_stale`)",
       field="max_event_age_s", minimum=1),
    _s("RISK_MIN_CONFIDENCE", "float", 0.5,
       "identification confidence below this goes to review", field="min_confidence",
       minimum=0, maximum=1),
    _s("RISK_ALLOWED_ORIGINS", "list", (),
       "comma-separated origins the event's page must be on", field="allowed_origins",
       doc_default="empty = check off"),
    _s("RISK_CHECK_IP", "bool", True,
       "event IP must equal the signup request's client IP (else review; an unknown client "
       "IP fails the check)", field="check_ip"),
    _s("RISK_TRUSTED_PROXY_COUNT", "int", 0,
       "reverse proxies in front of Django that append to `X-Forwarded-For`",
       field="trusted_proxy_count", minimum=0, maximum=10, aliases=("TRUSTED_PROXY_COUNT",)),
    # --- The device limit (docs/decision-quality.md) --------------------------------------
    _s("RISK_MAX_ACCOUNTS_PER_DEVICE", "int", 1,
       "soft limit: past it a clean, established device is held for review (a household or "
       "shared PC) and a device with any farm signal is denied", field="max_accounts_per_device",
       minimum=1),
    _s("RISK_MAX_ACCOUNTS_PER_DEVICE_HARD", "int", 10,
       "hard limit: past it every signup from the device is denied (reviewers can trust a "
       "device to lift both limits)", field="max_accounts_per_device_hard", minimum=1),
    _s("RISK_DEVICE_LIMIT_STRICT", "bool", False,
       "`1` makes the soft limit deny, as the seed quickstart does (for sites that sell "
       "trials)", field="device_limit_strict"),
    _s("RISK_ESTABLISHED_DEVICE_HOURS", "float", 24,
       "a phone the Device Reputation Network has known this long is a new install, not a "
       "new device; a factory reset more recent than this is a farm signal",
       field="established_device_hours", minimum=0),
    _s("RISK_NEW_DEVICE_MINUTES", "float", 60,
       "a device Fingerprint first saw less than this long before the event is brand-new",
       field="new_device_minutes", minimum=0),
    _s("RISK_PERSON_MAX_IPS_1H", "int", 3,
       "distinct IPs in an hour a person's device may show; more is a farm signal on a device "
       "past the soft limit", field="person_max_ips_1h", minimum=1),
    _s("RISK_VELOCITY_MAX_IPS_1H", "int", 10,
       "distinct IPs in an hour at or above which a device is denied (`velocity_ips`)",
       field="velocity_max_ips_1h", minimum=2),
    _s("RISK_IP_NEW_DEVICES_REVIEW_1H", "int", 2,
       "other brand-new devices that signed up from the same IP within the hour at or above "
       "which a brand-new device is held (`ip_new_devices`; 0 = off)",
       field="ip_new_devices_review_1h", minimum=0),
    _s("RISK_IP_NEW_DEVICES_DENY_1H", "int", 5,
       "... at or above which it is denied: a farm rotating devices behind one address "
       "(`ip_new_device_burst`; 0 = off)", field="ip_new_devices_deny_1h", minimum=0),
    # --- Privacy (docs/privacy.md) --------------------------------------------------------
    _s("RISK_SNAPSHOT_RETENTION_DAYS", "int", 90,
       "`purge_snapshots` strips raw snapshots, DRN answers and IPs older than this from "
       "attempts not held for review (`0` = keep forever)", minimum=0),
    # --- Throttles (risk/throttles.py; shared by every process through the cache) ----------
    _s("SIGNUP_THROTTLE_RATE", "str", "300/hour",
       "signups per client IP (the IP check's resolver, `RISK_TRUSTED_PROXY_COUNT`), all nodes "
       "together; generous so a carrier NAT address is not punished; `N/s`, `N/min`, "
       "`N/hour`, `N/day`, `N/10s`; empty = off. Over it: 429 `throttled` with `Retry-After`"),
    _s("SIGNUP_THROTTLE_VISITOR_RATE", "str", "10/hour",
       "signups per device (visitor id), counted once the event is known; empty = off"),
    _s("SIGNUP_DEVICE_CONCURRENCY", "int", 1,
       "signups of one device a server process decides at once, once the event is known; the "
       "device's other signups wait their turn (first come first served, at most 2 s), so a "
       "one-device flood cannot take the cores from everyone else (`risk/device_gate.py`; "
       "0 = no limit)",
       field="device_concurrency", minimum=0, maximum=64),
    _s("SIGNUP_FAST_PATH", "bool", True,
       "serve plain signup requests (JSON, within the size cap) through Django's handler with "
       "only the middleware that acts on them and without DRF's dispatch: the same view code, "
       "answers and headers, about a third less CPU per refusal (`accounts/fast_path.py`); "
       "takes effect in `fpdjango.wsgi`"),
    # --- The review console (docs/review-console.md) ---------------------------------------
    _s("REVIEW_CLAIM_MINUTES", "int", 15,
       "how long a reviewer's claim on a queue item lasts", minimum=1),
    _s("REVIEW_NOTIFY_USERS", "bool", True,
       "email the user when a reviewer approves or rejects their held account (from a Celery "
       "worker when a broker is set, else in the request)"),
    _s("REVIEW_EMAIL_RETRY_S", "int", 60,
       "a review email the mail server did not take is retried after this long, doubling up "
       "to an hour, 8 times", minimum=1),
    _s("REVIEW_DRN_LOOKUPS_PER_HOUR", "int", 30,
       "DRN \"look up again\" lookups per reviewer and hour", minimum=0),
    _s("REVIEW_REQUIRE_OTP", "bool", False,
       "staff need a TOTP device (django-otp) and its code to sign in to the console"),
    # --- Review thresholds ----------------------------------------------------------------
    _s("RISK_SUSPECT_SCORE_REVIEW", "int", 10, "suspect score at or above this goes to review",
       field="suspect_score_review", minimum=0),
    _s("RISK_DRN_NEW_DEVICE_MINUTES", "int", 60,
       "DRN first saw the device less than this long before the signup: review "
       "(`drn_new_device`; 0 = off)", field="drn_new_device_minutes", minimum=0),
    _s("RISK_DRN_PERCENTILE_REVIEW", "float", 0.95,
       "DRN max suspect percentile at or above this: review (`drn_high_percentile`)",
       field="drn_percentile_review", minimum=0.01, maximum=1),
    _s("RISK_DRN_LOCATION_MASKED_REVIEW", "bool", True,
       "the device's real country never shows in its IPs: review (`drn_location_masked`)",
       field="drn_location_masked_review"),
)  # fmt: skip
BY_NAME = {setting.name: setting for setting in SETTINGS}


def settings_from_environ(environ: os._Environ | dict | None = None) -> dict[str, Any]:
    """Every setting's value from the environment: what `fpdjango/settings.py` assigns."""
    environ = os.environ if environ is None else environ
    return {setting.name: setting.from_environ(environ) for setting in SETTINGS}


@dataclass(frozen=True)
class RiskSettings:
    """The resolved settings the services and rules read (one object per call)."""

    secret_api_key: str
    api_url: str
    drn_api_url: str
    uses_sandbox: bool
    sealed_keys: tuple[str, ...]
    region: str
    api_version: str
    timeout_s: float
    connect_timeout_s: float
    max_retries: int
    failure_policy: str
    webhook_secret: str
    webhook_max_bytes: int
    drn_cache_s: int
    drn_rps: float
    drn_signup_budget_s: float
    max_event_age_s: int
    min_confidence: float
    allowed_origins: tuple[str, ...]
    check_ip: bool
    trusted_proxy_count: int
    max_accounts_per_device: int
    max_accounts_per_device_hard: int
    device_limit_strict: bool
    established_device_hours: float
    new_device_minutes: float
    person_max_ips_1h: int
    velocity_max_ips_1h: int
    ip_new_devices_review_1h: int
    ip_new_devices_deny_1h: int
    device_concurrency: int
    suspect_score_review: int
    drn_new_device_minutes: int
    drn_percentile_review: float
    drn_location_masked_review: bool

    def replace(self, **changes: Any) -> RiskSettings:
        return dataclasses.replace(self, **changes)


def _value(setting: Setting, source: Any) -> Any:
    raw = getattr(source, setting.name, None) if source is not None else None
    if raw is None:
        raw = setting.default
    if isinstance(raw, str) and setting.kind != "str":
        try:
            raw = setting.parse(raw)
        except ValueError:
            raw = setting.default  # checks.py reports it; the product keeps working
    if setting.kind == "str":
        return str(raw or setting.default)
    if setting.kind == "list":
        return tuple(str(item) for item in raw if item)
    try:
        return {"int": int, "float": float, "bool": bool}[setting.kind](raw)
    except (TypeError, ValueError):
        return setting.default


def resolve(source: Any = None) -> RiskSettings:
    """RiskSettings from an object with the settings as attributes (Django's settings by
    default; `None` gives every default, which tests build on)."""
    values = {s.field: _value(s, source) for s in SETTINGS if s.field}
    secret = _value(BY_NAME["FINGERPRINT_SECRET_API_KEY"], source)
    explicit_url = _value(BY_NAME["FINGERPRINT_API_URL"], source)
    region = values["region"].lower()
    # No key configured: talk to the local sandbox (checks.py makes this an error in production).
    uses_sandbox = not secret
    if uses_sandbox:
        secret = SANDBOX_SECRET_API_KEY
        api_url = explicit_url or _value(BY_NAME["FINGERPRINT_SANDBOX_URL"], source)
    else:
        api_url = explicit_url or REGION_API_URLS.get(region, REGION_API_URLS["us"])
    # DRN has one global host. The sandbox serves it next to the Server API, so with no key
    # (or the sandbox's well-known key, which Fingerprint would refuse anyway) use that root.
    drn_url = _value(BY_NAME["FINGERPRINT_DRN_API_URL"], source)
    if not drn_url:
        drn_url = api_url if uses_sandbox or secret == SANDBOX_SECRET_API_KEY else DRN_API_URL
    values.update(
        region=region,
        api_version=values["api_version"].lower(),
        failure_policy=values["failure_policy"].lower(),
        allowed_origins=tuple(
            normalise_origin(origin) or origin for origin in values["allowed_origins"]
        ),
    )
    return RiskSettings(
        secret_api_key=secret,
        api_url=api_url.rstrip("/"),
        drn_api_url=drn_url.rstrip("/"),
        uses_sandbox=uses_sandbox,
        sealed_keys=_value(BY_NAME["FINGERPRINT_SEALED_KEYS"], source),
        **values,
    )


_resolved: RiskSettings | None = None


def risk_settings() -> RiskSettings:
    """The settings, resolved once per process: a signup reads them several times and
    resolving all rows costs about 0.4 ms. Changing a setting (`override_settings` in tests)
    sends `setting_changed`, which drops the cached copy."""
    global _resolved
    cfg = _resolved
    if cfg is None:
        cfg = _resolved = resolve(settings)
    return cfg


def _forget_resolved(**kwargs: Any) -> None:
    global _resolved
    _resolved = None


setting_changed.connect(_forget_resolved, dispatch_uid="risk.conf.forget_resolved")


def settings_table_markdown() -> str:
    """The README's settings table, generated from SETTINGS."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = setting.doc_default or _doc_default(setting)
        name = f"`{setting.name}`"
        if setting.aliases:
            name += " (was " + ", ".join(f"`{alias}`" for alias in setting.aliases) + ")"
        lines.append(f"| {name} | {default} | {setting.help} |")
    return "\n".join(lines)


def _doc_default(setting: Setting) -> str:
    value = setting.default
    if setting.kind == "bool":
        value = int(value)
    if setting.kind == "list":
        value = ",".join(value)
    return f"`{value}`" if value != "" else "empty"
