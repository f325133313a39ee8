"""HighSeas settings, driven by the environment.

Embedded default: SQLite in WAL mode inside ``HIGHSEAS_DATA_DIR`` (``./var``), a secret key
generated there on first run. Scale-out: ``DATABASE_URL=postgresql://…``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("HIGHSEAS_DATA_DIR", Path.cwd() / "var")).resolve()
# What this process creates (data folder, database, keys) is the service user's alone;
# `highseas init` / `serve` tighten an older folder (highseas.config.private_files).
os.umask(os.umask(0o077) | 0o077)


def _env_flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# Personal data at rest (highseas.customers.crypto): base64 of 32 bytes, else a key file
# generated in the data folder (0600); old keys stay readable until `highseas rotatekeys`.
HIGHSEAS_DATA_KEY = os.environ.get("HIGHSEAS_DATA_KEY", "")
HIGHSEAS_DATA_OLD_KEYS = os.environ.get("HIGHSEAS_DATA_OLD_KEYS", "")
HIGHSEAS_DATA_KEY_FILE = DATA_DIR / "data_keys.json"
DEBUG = _env_flag("HIGHSEAS_DEBUG")
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
ALLOW_TIME_TRAVEL = _env_flag("HIGHSEAS_ALLOW_TIME_TRAVEL")
HIGHSEAS_EMAIL_NOTIFICATIONS = _env_flag("HIGHSEAS_EMAIL_NOTIFICATIONS")
HIGHSEAS_WEBHOOK_URL = os.environ.get("HIGHSEAS_WEBHOOK_URL", "")
# An import prepares its next batch in a forked helper process while it writes the current
# one (intake/preparing.py); off: every batch prepared in line.
HIGHSEAS_IMPORT_HELPER = _env_flag("HIGHSEAS_IMPORT_HELPER", default=True)
# Input bounds (api/parsers.py): a request body over HIGHSEAS_MAX_REQUEST_BYTES (files
# included) is refused before it is read; form and JSON data over DATA_UPLOAD_MAX_MEMORY_SIZE.
HIGHSEAS_MAX_REQUEST_BYTES = int(os.environ.get("HIGHSEAS_MAX_REQUEST_BYTES", 10 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("HIGHSEAS_MAX_DATA_BYTES", 2_621_440))
# Exact-identifier lookups (a full phone, e-mail or credit code in search or the duplicate
# check) each user may make per hour (pools/lookups.py); admins are told who reaches it.
HIGHSEAS_EXACT_LOOKUPS_PER_HOUR = int(os.environ.get("HIGHSEAS_EXACT_LOOKUPS_PER_HOUR", "30"))
# What a rep may export: "own" (their own customers) or "visible" (all they see, masked).
HIGHSEAS_REP_EXPORT_SCOPE = os.environ.get("HIGHSEAS_REP_EXPORT_SCOPE", "own")
# Public search (SPEC §8): the defaults until an admin saves 公共检索 settings on the console,
# which are kept in the database and win (customers.public).
if _public_fields := os.environ.get("HIGHSEAS_PUBLIC_FIELDS", ""):
    HIGHSEAS_PUBLIC_FIELDS = [name.strip() for name in _public_fields.split(",") if name.strip()]
HIGHSEAS_PUBLIC_SEARCH_SCOPE = os.environ.get("HIGHSEAS_PUBLIC_SEARCH_SCOPE", "prospects_and_won")
# Insights (insights/): a rep hoards a customer owned longer than this many days without an
# effective follow-up in them; the value score (engine/insights.py) reads won deals over the
# window, reaches half its monetary part at the half-point amount, and maps to A/B/C by score.
HIGHSEAS_HOARDING_DAYS = int(os.environ.get("HIGHSEAS_HOARDING_DAYS", "30"))
HIGHSEAS_VALUE_WINDOW_DAYS = int(os.environ.get("HIGHSEAS_VALUE_WINDOW_DAYS", "365"))
HIGHSEAS_VALUE_MONETARY_HALF = int(os.environ.get("HIGHSEAS_VALUE_MONETARY_HALF", "100000"))
HIGHSEAS_VALUE_THRESHOLDS = {"A": 60.0, "B": 30.0}
# The hour (0–23, in TIME_ZONE) of the nightly slow jobs: the level re-evaluation, the limit
# factors, the win model's retraining (pools/nightly.py).
HIGHSEAS_NIGHTLY_HOUR = int(os.environ.get("HIGHSEAS_NIGHTLY_HOUR", "3"))
if not 0 <= HIGHSEAS_NIGHTLY_HOUR <= 23:
    raise ImproperlyConfigured("HIGHSEAS_NIGHTLY_HOUR must be an hour from 0 to 23")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "highseas.config",
    "highseas.accounts",
    "highseas.customers",
    "highseas.pools",
    "highseas.routing",
    "highseas.smart",
    "highseas.insights",
    "highseas.notify",
    "highseas.intake",
    "highseas.api",
    "highseas.web",
]

MIDDLEWARE = [
    "highseas.config.traffic.InFlight",  # a long job of the scheduler gives way to requests
    "django.middleware.security.SecurityMiddleware",
    "highseas.api.parsers.RequestBounds",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "highseas.web.refusal_log.RefusalMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "highseas.config.urls"
WSGI_APPLICATION = "highseas.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'highseas.sqlite3'}", conn_max_age=60
    )
}
# SQLite copies its write-ahead log into the database (a checkpoint, ending in an fsync) inside
# the commit that takes the log past this many pages. At SQLite's default of 1,000 pages (4 MB)
# a 500-customer batch of an assignment run paid one at nearly every commit, and one claim in
# a hundred paid one: 10,000 pages made a 100,000-customer run 20 % faster and the claims' p99
# fall from 28 ms to 2.6 ms. The embedded server checkpoints in the background besides
# (``config.sqlite.checkpoints``), so that its requests seldom pay even the rarer, larger one.
WAL_AUTOCHECKPOINT_PAGES = 10_000
# A long job sizes its batches by whether a claim waited for the last one (``config.pacing``);
# off only to measure what that changes (``highseas bench assign --claims-per-second``).
PACED_BATCHES = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend with one write gate per process: see highseas/config/sqlite/base.py
    DATABASES["default"]["ENGINE"] = "highseas.config.sqlite"
    # Each thread keeps its connection between requests, as on PostgreSQL: opening one costs
    # SQLite a schema parse and the WAL's set-up, and closing the last one a checkpoint (an
    # API claim took 8.4 ms of CPU with a connection per request, 2.2 ms with one kept).
    DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES};"
        ),
    }
    # A file, not shared-cache memory, so that threads in tests contend as they would live.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_highseas.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side parameter binding: psycopg prepares a statement a connection has run five
    # times, so the rush paths (claim, release, assign, follow-up) skip the server's parse and
    # plan. Off (HIGHSEAS_PG_SERVER_SIDE_BINDING=0) behind a transaction-pooling pgbouncer.
    _binding = _env_flag("HIGHSEAS_PG_SERVER_SIDE_BINDING", default=True)
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["server_side_binding"] = _binding
    # Django turns psycopg's statement preparation off unless asked (prepare_threshold=None).
    _options.setdefault("prepare_threshold", 5 if _binding else None)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if _env_flag("HIGHSEAS_FAST_HASHER"):  # test runs only: hashing cost is not under test
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Failed sign-ins (API, web and admin alike) are counted by django-axes, per username and per
# address; successful sign-ins are never limited. See accounts/lockout.py.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
HIGHSEAS_LOGIN_FAILURES_PER_USER = int(os.environ.get("HIGHSEAS_LOGIN_FAILURES_PER_USER", "5"))
HIGHSEAS_LOGIN_FAILURES_PER_ADDRESS = int(
    os.environ.get("HIGHSEAS_LOGIN_FAILURES_PER_ADDRESS", "30")
)
AXES_HANDLER = "highseas.accounts.lockout.LoginFailureHandler"
AXES_FAILURE_LIMIT = HIGHSEAS_LOGIN_FAILURES_PER_USER
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = float(os.environ.get("HIGHSEAS_LOGIN_LOCKOUT_MINUTES", "15")) / 60
AXES_RESET_ON_SUCCESS = True  # the username's failures only (LoginFailureHandler)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "highseas.accounts.lockout.lockout_response"
AXES_ENABLE_ADMIN = True  # admins see the counted failures and may delete one to unlock
AXES_DISABLE_ACCESS_LOG = True  # successes are not recorded (nor limited)
AXES_VERBOSE = False

# API tokens (django-rest-knox): only a hash is stored; one per device; they expire.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=int(os.environ.get("HIGHSEAS_TOKEN_TTL_HOURS", "720"))),
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
}
# The library's own table is swapped for accounts.ApiToken: it needs no migration of its own.
MIGRATION_MODULES = {"knox": None}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "highseas.accounts.tokens.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "highseas.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "highseas.api.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "highseas.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "HighSeas API",
    "DESCRIPTION": "公海 CRM: pools, claims, assignment and recycling.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CustomerLevelEnum": "highseas.customers.choices.CustomerLevel",
        "RepLevelEnum": "highseas.accounts.models.RepLevel",
        "CustomerStatusEnum": "highseas.customers.choices.CustomerStatus",
        "CustomerKindEnum": "highseas.customers.choices.CustomerKind",
        "CustomerStageEnum": "highseas.customers.choices.CustomerStage",
        "DealStageEnum": "highseas.customers.choices.DealStage",
        "OwnershipEventKindEnum": "highseas.pools.models.EVENT_KIND_CHOICES",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "highseas": {"handlers": ["console"], "level": "INFO"},
        # 4xx answers are logged once, as one line, by highseas.refusals; 5xx stay here.
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        # waitress warns "Task queue depth is N" whenever every thread is busy: at a rush
        # hour, on most requests, a line per request that nobody can act on
        "waitress.queue": {"level": "ERROR"},
    },
}
