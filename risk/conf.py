"""Every setting of the risk app, in one table: name, type, default, meaning and validation.

Settings are ordinary Django settings of the same name (`FINGERPRINT_SECRET_API_KEY = "..."` in
a host's settings module); a setting left unset has its default here. Code reads them through
one accessor, `risk_settings()`, which returns them typed and is rebuilt when a setting changes
(`override_settings` in tests). Text values are accepted for every kind ("60", "0", "a,b"), so
a project may hand environment strings over as they are: a value that does not parse is
reported by `manage.py check` (risk/checks.py) and the default is used meanwhile.

The README's settings table is generated from this table (`manage.py settings_table`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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
RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str) -> tuple[int, int] | None:
    """'20/min' -> (20, 60); '' -> None (off). Periods: s, m(in), h(our), d(ay), or '20/30s'."""
    rate = (rate or "").strip()
    if not rate:
        return None
    count, _, period = rate.partition("/")
    period = period.strip().lower()
    digits = "".join(ch for ch in period if ch.isdigit())
    unit = period[len(digits) :][:1]
    if not count.strip().isdigit() or unit not in RATE_PERIODS or int(count) < 1:
        raise ValueError(f"{rate!r} is not a rate like 20/min, 300/hour or 5/10s")
    return int(count), int(digits or 1) * RATE_PERIODS[unit]


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{raw!r} is not a boolean (use 1 or 0)")


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _rate(raw: str) -> str:
    rate_parse(raw)
    return raw.strip()


_TEXT_PARSERS = {"str": str, "int": int, "float": float, "bool": _bool, "list": _list}
_TEXT_PARSERS["rate"] = _rate


@dataclass(frozen=True)
class Setting:
    """One Django setting of the app."""

    name: str
    kind: str  # str | int | float | bool | list | rate
    default: Any
    help: str
    field: str  # the attribute of RiskSettings it feeds
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    url: bool = False  # an http(s) URL (empty allowed)
    aliases: tuple[str, ...] = ()  # older names, still accepted
    secret: bool = False  # never printed
    doc_default: str = ""  # how the README shows a computed default
    # A rule threshold: the backtest page can change it at runtime (risk.thresholds); this
    # setting stays its default.
    threshold: bool = False

    def given(self, source: Any) -> Any:
        """The value `source` (Django's settings) gives, under the name or an alias; None when
        it gives none (unset, or None)."""
        for name in (self.name, *self.aliases):
            value = getattr(source, name, None)
            if value is not None:
                return value
        return None

    def parse(self, raw: Any) -> Any:
        """The typed, validated value; ValueError says what is wrong with it."""
        value = _TEXT_PARSERS[self.kind](raw) if isinstance(raw, str) else raw
        if self.kind == "list":
            if not isinstance(value, list | tuple):
                raise ValueError(f"{raw!r} is not a list")
            value = tuple(str(item) for item in value if item)
        elif self.kind in ("str", "rate"):
            if not isinstance(value, str):
                raise ValueError(f"{raw!r} is not text")
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{raw!r} is not a boolean")
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{raw!r} is not a number")
            value = int(value) if self.kind == "int" else float(value)
            self._check_range(value)
        if self.choices and str(value).lower() not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {raw!r}")
        if self.url and value and not normalise_origin(value):
            raise ValueError(f"must be an http(s) URL, got {raw!r}")
        return value

    def _check_range(self, number: float) -> None:
        low, high = self.minimum, self.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            if low is not None and high is not None:
                raise ValueError(f"must be a number between {low:g} and {high:g}, got {number:g}")
            raise ValueError(f"must be a number >= {low:g}, got {number:g}")

    def value(self, source: Any) -> Any:
        """The typed value from `source`, or the default when unset or invalid (the system
        check reports an invalid one)."""
        raw = self.given(source)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except (TypeError, ValueError):
            return self.default


def _setting(name: str, kind: str, default: Any, help: str, field: str, **kw: Any) -> Setting:
    return Setting(name, kind, default, help, field, **kw)


SETTINGS: tuple[Setting, ...] = (
    # --- Fingerprint Server API ---------------------------------------------------------
    _setting("FINGERPRINT_SECRET_API_KEY", "str", "",
       "Server API secret key; empty = use the sandbox. Required in production "
       "(check `risk.E001`)", "secret_api_key", secret=True,
       doc_default="empty = use the sandbox"),
    _setting("FINGERPRINT_PUBLIC_API_KEY", "str", "",
       "public key for the JS agent (`{% fingerprint_agent %}`, the signup page); without it, "
       "pages load the sandbox's agent in development and none in production",
       "public_api_key", doc_default="empty = sandbox agent"),
    _setting("FINGERPRINT_AGENT_ENDPOINT", "str", "",
       "your proxy integration's endpoint (e.g. `https://fp.example.com`): the JS agent's "
       "script and requests go there instead of Fingerprint's CDN, and ad blockers do not cut "
       "them ([docs/clients.md](docs/clients.md))", "agent_endpoint", url=True,
       doc_default="empty = Fingerprint's CDN"),
    _setting("FINGERPRINT_REGION", "str", "us", "`us`, `eu` or `ap`: picks the API root", "region",
       choices=tuple(REGION_API_URLS)),
    _setting("FINGERPRINT_API_URL", "str", "",
       "overrides the root URL (e.g. the sandbox); the client appends `/v4/...` or v3 paths",
       "explicit_api_url", url=True, doc_default="region's root"),
    _setting("FINGERPRINT_SANDBOX_URL", "str", "http://127.0.0.1:8100",
       "where the sandbox is when no secret key is set (development only)", "sandbox_url",
       url=True),
    _setting("FINGERPRINT_API_VERSION", "str", "v4",
       "`v3` for legacy workspaces (v3 shuts down on 2027-01-07)", "api_version",
       choices=API_VERSIONS),
    _setting("FINGERPRINT_TIMEOUT_S", "float", 2.0,
       "total time budget for one event lookup, retries included", "timeout_s",
       minimum=0.05, maximum=60),
    _setting("FINGERPRINT_CONNECT_TIMEOUT_S", "float", 1.0, "TCP/TLS connect timeout per attempt",
       "connect_timeout_s", minimum=0.05, maximum=60),
    _setting("FINGERPRINT_MAX_RETRIES", "int", 2,
       "retries on connection errors and 5xx (jittered backoff, inside the budget)",
       "max_retries", minimum=0, maximum=10),
    _setting("FINGERPRINT_FAILURE_POLICY", "str", "review",
       "Fingerprint down, slow or rate-limiting: `review` accepts the signup as unverified "
       "(account inactive until the event is verified); `deny` answers 503 with `Retry-After`",
       "failure_policy", choices=FAILURE_POLICIES),
    _setting("FINGERPRINT_SEALED_KEYS", "list", (),
       "comma-separated base64 AES-256 keys; a signup that carries the agent's "
       "`sealed_result` is then opened locally (no API round trip); a blob no key opens is "
       "refused", "sealed_keys", secret=True, doc_default="empty = off"),
    _setting("FINGERPRINT_WEBHOOK_SECRET", "str", "",
       "secret of the Fingerprint webhook; events POSTed to `/api/fingerprint/webhook` with a "
       "valid `FPJS-Event-Signature` are stored", "webhook_secret", secret=True,
       doc_default="empty = webhook off"),
    _setting("FINGERPRINT_WEBHOOK_MAX_BYTES", "int", 512 * 1024,
       "largest webhook body accepted; a larger one is refused with 413 before it is read",
       "webhook_max_bytes", minimum=1024),
    _setting("FINGERPRINT_SUSPECT_FEEDBACK", "bool", True,
       "tell Fingerprint what reviewers found: a rejection or a device block marks the events "
       "involved as suspect (`PATCH /v4/events/{id}`), an approval or unblock takes it back, "
       "from a Celery worker within the Server API budget; `0` = off", "suspect_feedback"),
    _setting("FINGERPRINT_SANDBOX_IN_PRODUCTION", "bool", False,
       "`1` lets production settings talk to a sandbox on a loopback address (benchmarks "
       "only; checks `risk.E011`, `risk.E012`)", "sandbox_in_production"),
    # --- Device Reputation Network ------------------------------------------------------
    _setting("FINGERPRINT_DRN_API_URL", "str", "",
       "Device Reputation Network root; with no secret key (or the sandbox's key) the "
       "sandbox's root. See [docs/drn.md](docs/drn.md)", "explicit_drn_api_url", url=True,
       doc_default="`https://drn-api.fpjs.io`"),
    _setting("FINGERPRINT_DRN_CACHE_S", "int", 3600,
       "a device's DRN answer is reused this long (0 = always ask)", "drn_cache_s", minimum=0),
    _setting("FINGERPRINT_DRN_RPS", "float", 5.0,
       "client-side limit on DRN requests per second for the whole deployment (every process "
       "and machine, through `RISK_REDIS_URL`; per process without it)", "drn_rps",
       minimum=0.01, maximum=1000),
    _setting("FINGERPRINT_DRN_SIGNUP_BUDGET_S", "float", 0.5,
       "time an Android signup may spend on DRN; slower or failing lookups are deferred to a "
       "Celery worker (without a broker: to `backfill_drn`) (0 = always defer)",
       "drn_signup_budget_s", minimum=0, maximum=10),
    # --- Checks ---------------------------------------------------------------------------
    _setting("RISK_MAX_EVENT_AGE_S", "int", 60, "older events are refused (`event_stale`)",
       "max_event_age_s", minimum=1, threshold=True),
    _setting("RISK_MIN_CONFIDENCE", "float", 0.5,
       "identification confidence below this goes to review", "min_confidence",
       minimum=0, maximum=1, threshold=True),
    _setting("RISK_ALLOWED_ORIGINS", "list", (),
       "comma-separated origins the event's page must be on", "allowed_origins",
       doc_default="empty = check off"),
    _setting("RISK_CHECK_IP", "bool", True,
       "event IP must equal the signup request's client IP (else review; an unknown client "
       "IP fails the check)", "check_ip"),
    _setting("RISK_TRUSTED_PROXY_COUNT", "int", 0,
       "reverse proxies in front of Django that append to `X-Forwarded-For`",
       "trusted_proxy_count", minimum=0, maximum=10, aliases=("TRUSTED_PROXY_COUNT",)),
    # --- The device limit (docs/decision-quality.md) --------------------------------------
    _setting("RISK_MAX_ACCOUNTS_PER_DEVICE", "int", 1,
       "soft limit: past it a clean, established device is held for review (a household or "
       "shared PC) and a device with any farm signal is denied", "max_accounts_per_device",
       minimum=1, threshold=True),
    _setting("RISK_MAX_ACCOUNTS_PER_DEVICE_HARD", "int", 10,
       "hard limit: past it every signup from the device is denied (reviewers can trust a "
       "device to lift both limits)", "max_accounts_per_device_hard", minimum=1, threshold=True),
    _setting("RISK_DEVICE_LIMIT_STRICT", "bool", False,
       "`1` makes the soft limit deny, as the seed quickstart does (for sites that sell "
       "trials)", "device_limit_strict", threshold=True),
    _setting("RISK_ESTABLISHED_DEVICE_HOURS", "float", 24,
       "a phone the Device Reputation Network has known this long is a new install, not a "
       "new device; a factory reset more recent than this is a farm signal",
       "established_device_hours", minimum=0, threshold=True),
    _setting("RISK_NEW_DEVICE_MINUTES", "float", 60,
       "a device Fingerprint first saw less than this long before the event is brand-new",
       "new_device_minutes", minimum=0, threshold=True),
    _setting("RISK_PERSON_MAX_IPS_1H", "int", 3,
       "distinct IPs in an hour a person's device may show; more is a farm signal on a device "
       "past the soft limit", "person_max_ips_1h", minimum=1, threshold=True),
    _setting("RISK_VELOCITY_MAX_IPS_1H", "int", 10,
       "distinct IPs in an hour at or above which a device is denied (`velocity_ips`)",
       "velocity_max_ips_1h", minimum=2, threshold=True),
    _setting("RISK_IP_NEW_DEVICES_REVIEW_1H", "int", 2,
       "other brand-new devices that signed up from the same network (an IPv4 address, an "
       "IPv6 /64) within the hour at or above which a brand-new device is held "
       "(`ip_new_devices`; 0 = off)", "ip_new_devices_review_1h", minimum=0, threshold=True),
    _setting("RISK_IP_NEW_DEVICE_SHARE", "float", 0.5,
       "share of brand-new devices among the devices that signed up from the network within the "
       "hour at or above which the two counts above apply; below it the address is a shared "
       "network (a campus, carrier NAT or office: mostly established devices) and holds no one",
       "ip_new_device_share", minimum=0, maximum=1, threshold=True),
    _setting("RISK_IP_NEW_DEVICES_DENY_1H", "int", 5,
       "... at or above which it is denied: a farm rotating devices behind one address "
       "(`ip_new_device_burst`; 0 = off)", "ip_new_devices_deny_1h", minimum=0, threshold=True),
    _setting("RISK_DISPOSABLE_EMAIL_DOMAINS", "list", (),
       "more throwaway-mailbox domains, beside the `disposable-email-domains` package's list "
       "(a signup from one is held; with a farm signal, denied)", "disposable_email_domains",
       doc_default="empty = the package's list"),
    _setting("RISK_DISPOSABLE_EMAIL_EXEMPT", "list", (),
       "domains never treated as throwaway, even if the package lists them (your own, a "
       "partner's)", "disposable_email_exempt", doc_default="empty"),
    # --- Privacy (docs/privacy.md) --------------------------------------------------------
    _setting("RISK_SNAPSHOT_RETENTION_DAYS", "int", 90,
       "`purge_snapshots` strips raw snapshots, DRN answers and IPs older than this from "
       "attempts not held for review (`0` = keep forever)", "snapshot_retention_days",
       minimum=0),
    _setting("RISK_LOG_VISITOR_ID", "str", "plain",
       "how the signup decision log line carries the visitor id: `plain`, `hashed` (a keyed "
       "hash: lines of one device still match, and erasure leaves nothing readable) or `off`",
       "log_visitor_id", choices=("plain", "hashed", "off")),
    # --- Shared state (several processes or machines) -------------------------------------
    _setting("RISK_REDIS_URL", "str", "",
       "Redis for the rate limits on Fingerprint's APIs (DRN, backfills) shared by every "
       "process; empty = each process keeps its own", "redis_url",
       doc_default="empty = per process"),
    _setting("RISK_REDIS_KEY_PREFIX", "str", "risk",
       "prefix of the keys written to `RISK_REDIS_URL` (several deployments can share one)",
       "redis_key_prefix"),
    # --- Throttles (risk/throttles.py; shared by every process through the cache) ----------
    _setting("SIGNUP_THROTTLE_RATE", "rate", "300/hour",
       "signups per client network (an IPv4 address, an IPv6 /64; the IP check's resolver, "
       "`RISK_TRUSTED_PROXY_COUNT`), all processes together; generous so a carrier NAT "
       "address is not punished; `N/s`, `N/min`, `N/hour`, `N/day`, `N/10s`; empty = off. "
       "Over it: 429 `throttled` with `Retry-After`", "throttle_rate"),
    _setting("SIGNUP_THROTTLE_VISITOR_RATE", "rate", "10/hour",
       "signups per device (visitor id) whose event passed the server-side checks; empty = "
       "off", "throttle_visitor_rate"),
    _setting("SIGNUP_DEVICE_CONCURRENCY", "int", 1,
       "signups of one device a server process decides at once, once the event is known; the "
       "device's other signups wait their turn (first come first served, at most 2 s), so a "
       "one-device flood cannot take the cores from everyone else (`risk/device_gate.py`; "
       "0 = no limit)", "device_concurrency", minimum=0, maximum=64),
    # --- The review console (docs/review-console.md) ---------------------------------------
    _setting("REVIEW_CLAIM_MINUTES", "int", 15,
       "how long a reviewer's claim on a queue item lasts", "claim_minutes", minimum=1),
    _setting("REVIEW_NOTIFY_USERS", "bool", True,
       "email the user when a reviewer approves or rejects their held account (from a Celery "
       "worker when a broker is set, else in the request)", "notify_users"),
    _setting("REVIEW_EMAIL_RETRY_S", "int", 60,
       "a review email the mail server did not take is retried after this long, doubling up "
       "to an hour, 8 times", "email_retry_s", minimum=1),
    _setting("REVIEW_DRN_LOOKUPS_PER_HOUR", "int", 30,
       "DRN \"look up again\" lookups per reviewer and hour", "drn_lookups_per_hour",
       minimum=0),
    _setting("REVIEW_REQUIRE_OTP", "bool", None,
       "staff need a TOTP device (django-otp) and its code to sign in to the console; on by "
       "default in production (`DEBUG` off): set `0` to opt out", "require_otp",
       doc_default="on unless `DEBUG`"),
    # --- Review thresholds ----------------------------------------------------------------
    _setting("RISK_SUSPECT_SCORE_REVIEW", "int", 10,
       "suspect score at or above this goes to review", "suspect_score_review", minimum=0,
       threshold=True),
    _setting("RISK_DRN_NEW_DEVICE_MINUTES", "int", 60,
       "DRN first saw the device less than this long before the signup: review "
       "(`drn_new_device`; 0 = off)", "drn_new_device_minutes", minimum=0, threshold=True),
    _setting("RISK_DRN_PERCENTILE_REVIEW", "float", 0.95,
       "DRN max suspect percentile at or above this: review (`drn_high_percentile`)",
       "drn_percentile_review", minimum=0.01, maximum=1, threshold=True),
    _setting("RISK_DRN_LOCATION_MASKED_REVIEW", "bool", True,
       "the device's real country never shows in its IPs: review (`drn_location_masked`)",
       "drn_location_masked_review", threshold=True),
)  # fmt: skip
BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True)
class RiskSettings:
    """The resolved settings (one object per process until a setting changes)."""

    # as given (see SETTINGS)
    secret_api_key: str
    public_api_key: str
    agent_endpoint: str
    region: str
    explicit_api_url: str
    sandbox_url: str
    api_version: str
    timeout_s: float
    connect_timeout_s: float
    max_retries: int
    failure_policy: str
    sealed_keys: tuple[str, ...]
    webhook_secret: str
    webhook_max_bytes: int
    suspect_feedback: bool
    sandbox_in_production: bool
    explicit_drn_api_url: str
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
    ip_new_device_share: float
    disposable_email_domains: tuple[str, ...]
    disposable_email_exempt: tuple[str, ...]
    snapshot_retention_days: int
    log_visitor_id: str
    redis_url: str
    redis_key_prefix: str
    throttle_rate: str
    throttle_visitor_rate: str
    device_concurrency: int
    claim_minutes: int
    notify_users: bool
    email_retry_s: int
    drn_lookups_per_hour: int
    require_otp: bool
    suspect_score_review: int
    drn_new_device_minutes: int
    drn_percentile_review: float
    drn_location_masked_review: bool
    # derived
    uses_sandbox: bool = False  # no secret key: the local sandbox answers
    sandboxed: bool = False  # the sandbox answers: no key, or the sandbox's well-known one
    api_url: str = ""
    drn_api_url: str = ""

    def replace(self, **changes: Any) -> RiskSettings:
        return dataclasses.replace(self, **changes)


def resolve(source: Any = None) -> RiskSettings:
    """RiskSettings from an object with the settings as attributes (Django's settings by
    default; `None` gives every default, which tests build on)."""
    values = {s.field: s.value(source) for s in SETTINGS}
    values["region"] = values["region"].lower()
    values["api_version"] = values["api_version"].lower()
    values["failure_policy"] = values["failure_policy"].lower()
    values["allowed_origins"] = tuple(
        normalise_origin(origin) or origin for origin in values["allowed_origins"]
    )
    if values["require_otp"] is None:
        values["require_otp"] = not getattr(source, "DEBUG", False)
    secret = values["secret_api_key"]
    # No key configured: talk to the local sandbox (checks.py makes this an error in production).
    uses_sandbox = not secret
    if uses_sandbox:
        values["secret_api_key"] = SANDBOX_SECRET_API_KEY
        api_url = values["explicit_api_url"] or values["sandbox_url"]
    else:
        api_url = values["explicit_api_url"] or REGION_API_URLS[values["region"]]
    # DRN has one global host. The sandbox serves it next to the Server API, so with no key
    # (or the sandbox's well-known key, which Fingerprint would refuse anyway) use that root.
    sandboxed = uses_sandbox or secret == SANDBOX_SECRET_API_KEY
    drn_url = values["explicit_drn_api_url"] or (api_url if sandboxed else DRN_API_URL)
    return RiskSettings(
        **values,
        uses_sandbox=uses_sandbox,
        sandboxed=sandboxed,
        api_url=api_url.rstrip("/"),
        drn_api_url=drn_url.rstrip("/"),
    )


_resolved: RiskSettings | None = None
# The runtime threshold overrides (risk.thresholds, installed when the app is ready): the
# settings in force from the resolved ones. Installed from outside because it reads the
# database, which this module must not import.
_in_force: Callable[[RiskSettings], RiskSettings] | None = None


def risk_settings() -> RiskSettings:
    """The settings, resolved once per process, with the rule thresholds changed at runtime
    applied (risk.thresholds). Changing a setting (`override_settings` in tests) sends
    `setting_changed`, which drops the cached copy."""
    global _resolved
    cfg = _resolved
    if cfg is None:
        cfg = _resolved = resolve(settings)
    return cfg if _in_force is None else _in_force(cfg)


def in_force_install(hook: Callable[[RiskSettings], RiskSettings] | None) -> None:
    global _in_force
    _in_force = hook


def _forget_resolved(**kwargs: Any) -> None:
    global _resolved
    _resolved = None


setting_changed.connect(_forget_resolved, dispatch_uid="risk.conf.forget_resolved")


def settings_problems(source: Any = None) -> list[tuple[Setting, str]]:
    """Every setting `source` gives that does not parse or validate, with what is wrong."""
    source = settings if source is None else source
    problems = []
    for setting in SETTINGS:
        raw = setting.given(source)
        if raw is None:
            continue
        try:
            setting.parse(raw)
        except (TypeError, ValueError) as exc:
            problems.append((setting, str(exc)))
    return problems


def settings_table_markdown() -> str:
    """The README's settings table, generated from SETTINGS."""
    lines = ["| setting | default | meaning |", "| --- | --- | --- |"]
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
