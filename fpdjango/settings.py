"""The reference project's settings, all read from the environment (and an optional `.env`
file) through django-environ. The only place that reads the environment.

Every variable is documented in README.md ("Configuration"). The risk app's own settings
(`FINGERPRINT_*`, `RISK_*`, `SIGNUP_*`, `REVIEW_*`) have their types, defaults and meanings in
one table, risk/conf.py: here each is taken from the environment as text when set, and left
unset (None) otherwise, so that risk's default applies as on any host.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Fail fast in production: a missing secret key is a configuration error, not a default.
if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")

# --- The risk app (risk/conf.py: each setting's type, default and meaning) ------------------
# Text from the environment; risk parses it, and `manage.py check` names a value that does not.
FINGERPRINT_SECRET_API_KEY = os.environ.get("FINGERPRINT_SECRET_API_KEY")
FINGERPRINT_PUBLIC_API_KEY = os.environ.get("FINGERPRINT_PUBLIC_API_KEY")
FINGERPRINT_AGENT_ENDPOINT = os.environ.get("FINGERPRINT_AGENT_ENDPOINT")
FINGERPRINT_REGION = os.environ.get("FINGERPRINT_REGION")
FINGERPRINT_API_URL = os.environ.get("FINGERPRINT_API_URL")
FINGERPRINT_SANDBOX_URL = os.environ.get("FINGERPRINT_SANDBOX_URL")
FINGERPRINT_API_VERSION = os.environ.get("FINGERPRINT_API_VERSION")
FINGERPRINT_TIMEOUT_S = os.environ.get("FINGERPRINT_TIMEOUT_S")
FINGERPRINT_CONNECT_TIMEOUT_S = os.environ.get("FINGERPRINT_CONNECT_TIMEOUT_S")
FINGERPRINT_MAX_RETRIES = os.environ.get("FINGERPRINT_MAX_RETRIES")
FINGERPRINT_FAILURE_POLICY = os.environ.get("FINGERPRINT_FAILURE_POLICY")
FINGERPRINT_SEALED_KEYS = os.environ.get("FINGERPRINT_SEALED_KEYS")
FINGERPRINT_WEBHOOK_SECRET = os.environ.get("FINGERPRINT_WEBHOOK_SECRET")
FINGERPRINT_WEBHOOK_MAX_BYTES = os.environ.get("FINGERPRINT_WEBHOOK_MAX_BYTES")
FINGERPRINT_SUSPECT_FEEDBACK = os.environ.get("FINGERPRINT_SUSPECT_FEEDBACK")
FINGERPRINT_SANDBOX_IN_PRODUCTION = os.environ.get("FINGERPRINT_SANDBOX_IN_PRODUCTION")
FINGERPRINT_DRN_API_URL = os.environ.get("FINGERPRINT_DRN_API_URL")
FINGERPRINT_DRN_CACHE_S = os.environ.get("FINGERPRINT_DRN_CACHE_S")
FINGERPRINT_DRN_RPS = os.environ.get("FINGERPRINT_DRN_RPS")
FINGERPRINT_DRN_SIGNUP_BUDGET_S = os.environ.get("FINGERPRINT_DRN_SIGNUP_BUDGET_S")
RISK_MAX_EVENT_AGE_S = os.environ.get("RISK_MAX_EVENT_AGE_S")
RISK_MIN_CONFIDENCE = os.environ.get("RISK_MIN_CONFIDENCE")
RISK_ALLOWED_ORIGINS = os.environ.get("RISK_ALLOWED_ORIGINS")
RISK_CHECK_IP = os.environ.get("RISK_CHECK_IP")
RISK_TRUSTED_PROXY_COUNT = os.environ.get("RISK_TRUSTED_PROXY_COUNT")
RISK_MAX_ACCOUNTS_PER_DEVICE = os.environ.get("RISK_MAX_ACCOUNTS_PER_DEVICE")
RISK_MAX_ACCOUNTS_PER_DEVICE_HARD = os.environ.get("RISK_MAX_ACCOUNTS_PER_DEVICE_HARD")
RISK_DEVICE_LIMIT_STRICT = os.environ.get("RISK_DEVICE_LIMIT_STRICT")
RISK_ESTABLISHED_DEVICE_HOURS = os.environ.get("RISK_ESTABLISHED_DEVICE_HOURS")
RISK_NEW_DEVICE_MINUTES = os.environ.get("RISK_NEW_DEVICE_MINUTES")
RISK_PERSON_MAX_IPS_1H = os.environ.get("RISK_PERSON_MAX_IPS_1H")
RISK_VELOCITY_MAX_IPS_1H = os.environ.get("RISK_VELOCITY_MAX_IPS_1H")
RISK_IP_NEW_DEVICES_REVIEW_1H = os.environ.get("RISK_IP_NEW_DEVICES_REVIEW_1H")
RISK_IP_NEW_DEVICE_SHARE = os.environ.get("RISK_IP_NEW_DEVICE_SHARE")
RISK_IP_NEW_DEVICES_DENY_1H = os.environ.get("RISK_IP_NEW_DEVICES_DENY_1H")
RISK_DISPOSABLE_EMAIL_DOMAINS = os.environ.get("RISK_DISPOSABLE_EMAIL_DOMAINS")
RISK_DISPOSABLE_EMAIL_EXEMPT = os.environ.get("RISK_DISPOSABLE_EMAIL_EXEMPT")
RISK_SNAPSHOT_RETENTION_DAYS = os.environ.get("RISK_SNAPSHOT_RETENTION_DAYS")
RISK_LOG_VISITOR_ID = os.environ.get("RISK_LOG_VISITOR_ID")
SIGNUP_THROTTLE_RATE = os.environ.get("SIGNUP_THROTTLE_RATE")
SIGNUP_THROTTLE_VISITOR_RATE = os.environ.get("SIGNUP_THROTTLE_VISITOR_RATE")
SIGNUP_DEVICE_CONCURRENCY = os.environ.get("SIGNUP_DEVICE_CONCURRENCY")
REVIEW_CLAIM_MINUTES = os.environ.get("REVIEW_CLAIM_MINUTES")
REVIEW_NOTIFY_USERS = os.environ.get("REVIEW_NOTIFY_USERS")
REVIEW_EMAIL_RETRY_S = os.environ.get("REVIEW_EMAIL_RETRY_S")
REVIEW_DRN_LOOKUPS_PER_HOUR = os.environ.get("REVIEW_DRN_LOOKUPS_PER_HOUR")
REVIEW_REQUIRE_OTP = os.environ.get("REVIEW_REQUIRE_OTP")
RISK_SUSPECT_SCORE_REVIEW = os.environ.get("RISK_SUSPECT_SCORE_REVIEW")
RISK_DRN_NEW_DEVICE_MINUTES = os.environ.get("RISK_DRN_NEW_DEVICE_MINUTES")
RISK_DRN_PERCENTILE_REVIEW = os.environ.get("RISK_DRN_PERCENTILE_REVIEW")
RISK_DRN_LOCATION_MASKED_REVIEW = os.environ.get("RISK_DRN_LOCATION_MASKED_REVIEW")
TRUSTED_PROXY_COUNT = env.str("TRUSTED_PROXY_COUNT", default=None)  # the old name

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "risk.apps.ReviewAdminConfig",  # django.contrib.admin with the review console's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "accounts",
    "risk",
    "axes",  # staff login lockout (after "risk": its admin registers on the review site)
    "django_otp",
    "django_otp.plugins.otp_totp",
]
# The Fingerprint simulator is a development and test tool, never part of production.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=DEBUG)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "fpdjango.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login
]

ROOT_URLCONF = "fpdjango.urls"
WSGI_APPLICATION = "fpdjango.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# PostgreSQL in production and CI; a SQLite file under var/ when DATABASE_URL is unset.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
# Persistent connections, checked by Django before a request reuses one (a restarted or failed
# over server is noticed instead of failing the request).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so concurrent signups queue
    # instead of failing with "database is locked" on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not shared-cache memory: concurrency tests need real SQLite locking.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Passwords ------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "accounts.hashers.TunableArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Argon2id cost (bench/argon2_processes.py measures what each costs on a machine).
ARGON2_TIME_COST = env.int("ARGON2_TIME_COST", default=2)
ARGON2_MEMORY_COST_KIB = env.int("ARGON2_MEMORY_COST_KIB", default=19456)
ARGON2_PARALLELISM = env.int("ARGON2_PARALLELISM", default=1)
# Hashes running at once per process (0 = one per CPU core): bounds memory under load.
ARGON2_MAX_CONCURRENT_HASHES = env.int("ARGON2_MAX_CONCURRENT_HASHES", default=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Redis: the one switch for the shared cache, the shared limits and the Celery broker ---
# Unset: the database cache (shared by every process, no server needed); the DRN limiter and
# the backfill budget then hold per process only, and Celery tasks run inline.
REDIS_URL = env.str("REDIS_URL", default="")
# Prefix of every key we write (cache, throttles, limiters): several deployments can share a Redis.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="fpdjango")
# risk's shared limits on Fingerprint's APIs (DRN, backfills) live there too.
RISK_REDIS_URL = REDIS_URL
RISK_REDIS_KEY_PREFIX = REDIS_KEY_PREFIX
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "fpdjango_cache",
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }

# --- Celery (fpdjango/celery.py): broker = REDIS_URL; no broker = tasks run inline ---------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL) or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged when done, not when received: a worker killed mid-task leaves it to
# be delivered again (every task here is idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers a task unacknowledged this long (a killed worker's); keep it above the
# longest task (a backfill chunk).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=600)
}
CELERY_TIMEZONE = "UTC"
# Workers log through LOGGING below (JSON lines in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Queue the app sends to and workers read (`celery -A fpdjango worker -Q <name>`).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# How often beat runs the verification of signups accepted while Fingerprint was down.
VERIFY_UNVERIFIED_EVERY_S = env.int("VERIFY_UNVERIFIED_EVERY_S", default=60)
CELERY_BEAT_SCHEDULE = {
    "verify-unverified-signups": {
        "task": "risk.tasks.attempts_verify_due_task",
        "schedule": float(VERIFY_UNVERIFIED_EVERY_S),
    },
    # The retention purge (RISK_SNAPSHOT_RETENTION_DAYS), once a day.
    "purge-expired-snapshots": {
        "task": "risk.tasks.snapshots_purge_task",
        "schedule": 86_400.0,
    },
    # Suspect feedback to Fingerprint that a lost task left owed (FINGERPRINT_SUSPECT_FEEDBACK).
    "send-suspect-feedback": {
        "task": "risk.tasks.suspect_feedback_sweep_task",
        "schedule": 300.0,
    },
}

# --- Metrics: /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset = 404 --
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Staff login protection (the review console) -------------------------------------------
# django-axes: after AXES_FAILURE_LIMIT failed admin logins from one client network (the
# trusted client IP, risk/client_ip.py; an IPv6 /64 counts as one), or for one username, that
# network or username is locked out of the admin login for the cool-off time.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Each on its own: a client network (an IPv6 /64 counts as one) and a username.
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "risk.client_ip.request_client_network"
AXES_ONLY_ADMIN_SITE = True
AXES_RESET_ON_SUCCESS = True
# No log of successful logins: the lockout needs only the failures, and a login log would be
# personal data the privacy erasure does not know about.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_TEMPLATE = "risk/review/lockout.html"
# django-otp: when on, staff need a TOTP device (added in the admin) and its code to sign in.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="fpdjango review console")

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "risk.integrations.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # The signup throttles are part of risk's verdict (risk/throttles.py).
    "DEFAULT_THROTTLE_CLASSES": [],
}
SPECTACULAR_SETTINGS = {"TITLE": "fpdjango signup API", "VERSION": "1.0.0"}

# Review console: how long a reviewer's claim on an item lasts; email users on a decision.
# Outgoing email (django-environ URL): the console in development, SMTP on localhost otherwise.
vars().update(
    env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
# A mail server that accepts the connection and then says nothing must not hold a thread.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_S", default=10)

# --- Logging: to stderr, JSON lines in production, plain text for development -------------
# Every line carries the request id (fpdjango/logs.py); the Fingerprint client never logs its key.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "fpdjango.logs.RequestIdFilter"},
        # A refused signup is the product working, not a server problem: no warning per 4xx.
        "signup_4xx": {"()": "fpdjango.log_filters.DropSignupClientErrors"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "fpdjango.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # refusals are recorded as attempts; a warning line each is noise under a flood
        "django.request": {"filters": ["signup_4xx"]},
    },
}

# --- Production hardening (active when DEBUG is off) -----------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    if not SECURE_HSTS_PRELOAD:
        # Preloading is an opt-in that is slow to undo (browsers ship the list), so it stays
        # off by default and its reminder (W021) must not fail `check --deploy`.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
