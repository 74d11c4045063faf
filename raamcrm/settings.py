"""Settings for Raam CRM. Everything that varies between machines comes from the environment."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from raamcrm.env import env_bool, env_choice, env_first, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
# Only a developer's machine may run on a throwaway key; production has no default.
SECRET_KEY = env_str("SECRET_KEY") if not DEBUG else env_str("SECRET_KEY", "insecure-dev-only-key")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
RENDER_EXTERNAL_HOSTNAME = env_str("RENDER_EXTERNAL_HOSTNAME")
if RENDER_EXTERNAL_HOSTNAME:
    ALLOWED_HOSTS.append(RENDER_EXTERNAL_HOSTNAME)
# The deploy's commit (Render sets it): what this code's cached figures are kept under (leads.reporting.snapshots).
RELEASE = env_str("RENDER_GIT_COMMIT", "")

INSTALLED_APPS = [
    "raamcrm.apps.RaamAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_ratelimit",
    # A TOTP second factor for the admin (raamcrm.second_factor); a Content-Security-Policy header.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    # The job queue (leads/tasks.py): jobs live in PostgreSQL, deferred in the lead's own transaction.
    "procrastinate.contrib.django",
    "leads",
]

MIDDLEWARE = [
    "raamcrm.middleware.RequestIdMiddleware",
    "raamcrm.middleware.HealthCheckMiddleware",
    "raamcrm.middleware.HttpsRedirectKeepsMethodMiddleware",
    "leads.intake.middleware.WebhookHostMiddleware",
    "leads.intake.middleware.MisdirectedLeadMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it wraps only the admin's view and page in the transaction its statement timeout needs.
    "raamcrm.statement_timeout.AdminStatementTimeoutMiddleware",
]

ROOT_URLCONF = "raamcrm.urls"

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

# PostgreSQL, and only PostgreSQL. Render sets DATABASE_URL; `make run` and `make test` start an embedded
# server (devservers/) and set it themselves. Settings never start one: without the URL, nothing runs.
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL must be set to a PostgreSQL URL (postgres://user@host:port/name). "
        "`make run` and `make test` start an embedded PostgreSQL and set it for you."
    )
_scheme = DATABASE_URL.split("://", 1)[0].lower()
if _scheme not in ("postgres", "postgresql", "pgsql"):
    # Checked before parsing: dj-database-url's own error for an unknown scheme is a bare traceback.
    raise ImproperlyConfigured(f"DATABASE_URL must name a PostgreSQL database (postgres://...), not {_scheme}://.")
# Each process keeps its connections in Django's psycopg pool; a request takes one and gives it back when it ends
# (so CONN_MAX_AGE stays 0, which Django requires with a pool). With CONN_HEALTH_CHECKS the pool checks a
# connection before handing it out, so one a PostgreSQL restart has ended is replaced before a lead meets it.
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)}
DATABASES["default"].setdefault("OPTIONS", {}).update(
    {
        # Fail fast when PostgreSQL is down: the partner's timeout is 10 s and we answer 503 well within it,
        # whether no connection can be made (connect_timeout) or none is free in the pool (timeout).
        "connect_timeout": 3,
        # Per server process: 2 processes (WEB_CONCURRENCY) hold at most 8, as the 2 x 4 threads of old did.
        # A connection attempt that fails is retried with a doubling backoff (1, 2, 4, 8 s ...) for reconnect_timeout,
        # and each attempt still waiting counts against max_size: after a long outage the pool could sit out a 16 s
        # wait with PostgreSQL long back, answering 503s. Giving up after 2 s lets the next request try afresh.
        "pool": {"min_size": 1, "max_size": 4, "timeout": 3, "reconnect_timeout": 2},
    }
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "raamcrm"),
            "OPTIONS": {
                # A Redis outage must cost a lead milliseconds, not the partner's whole timeout.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = ["security.W021"]
if not REDIS_URL and DEBUG:
    # The single-process quick start is the one place a per-process limiter is acceptable.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-in"
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Render terminates TLS and tells us the original scheme in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS only (guide §8). /healthz is answered before the redirect (raamcrm.middleware).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Browsers' preload list takes only registrable domains their owner controls; ours is a subdomain
# of onrender.com, so the "preload" directive could never take effect: security.W021 is silenced.
SECURE_HSTS_PRELOAD = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every page's scripts and styles come from our own static files, or inline with this response's nonce
# (our templates, and drf-spectacular's Swagger page through templates/drf_spectacular/).
CONTENT_SECURITY_POLICY = {
    # The webhooks answer servers, not browsers, and their answers stay as the guide shows them: their views
    # are exempt (leads.intake.views.LedgeredView).
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        # The hash is Django's one inline <style> in admin/change_list.html (a list without actions).
        "style-src": [SELF, NONCE, "'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='"],
        # Swagger UI draws its icons as data: SVGs.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = CSRF_COOKIE_HTTPONLY = True

ADMINS = [("", address) for address in env_list("ADMINS")]
SERVER_EMAIL = DEFAULT_FROM_EMAIL = env_str("SERVER_EMAIL", "crm-alerts@raamgroup.in")
# `make run` prints mail to the console; production and the alert tests speak SMTP.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = 10
EMAIL_SUBJECT_PREFIX = "[Raam CRM] "
# The job queue's worker (render.yaml, `make run`) runs this many jobs at once. An alert job spends most of
# its time waiting, on the SMTP server and on leads still committing as they join it (leads.sales.notifications),
# and each salesperson's alerts are a job of their own: one at a time, under a burst of leads each waited for
# the others (bench/RESULTS.md).
PROCRASTINATE_WORKER_DEFAULTS = {"concurrency": 4}
# Error reports leave out API keys, partner bodies and phone numbers.
DEFAULT_EXCEPTION_REPORTER_FILTER = "raamcrm.reporting.ScrubbingExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "raamcrm.reporting.ScrubbingExceptionReporter"
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    from raamcrm.reporting import init_sentry

    init_sentry(SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"))

# Where partners reach us; the printable guide and the schema print it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "https://raam-group-all-websites.onrender.com")

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    # Closed unless a view says otherwise: a future view that forgets its own classes is not open.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "leads.intake.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Raam Group MG digital leads webhooks",
    "DESCRIPTION": "Lead webhooks for CarDekho and CarWale. See /docs/integration/ for the printable guide.",
    "VERSION": "v1",
    # The rendered reference is served from our own static files; the admin works with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVERS": [{"url": PUBLIC_BASE_URL}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "leads.intake.schema.strip_optional_slash",
        "leads.intake.schema.publish_added_aliases",
    ],
}

# --- Lead intake -------------------------------------------------------------
# Partner keys from the environment, by partner slug. Each partner's variables are aliases: the guide's §3.1
# names the first, its §8 checklist the second (leads.checks makes sure every partner has its variables).
LEAD_API_KEY_VARIABLES: dict[str, tuple[str, ...]] = {
    "cardekho": ("LEAD_API_KEY_CARDEKHO", "CARDEKHO_API_KEY"),
    "carwale": ("LEAD_API_KEY_CARWALE", "CARWALE_API_KEY"),
}
LEAD_API_KEYS: dict[str, str] = {
    slug: key for slug, variables in LEAD_API_KEY_VARIABLES.items() if (key := env_first(*variables))
}
LEAD_MAX_BODY_BYTES = env_int("LEAD_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
# Django refuses larger bodies on its own; ours is the tighter, JSON-answered limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(LEAD_MAX_BODY_BYTES, 2_621_440)
# A batch (a JSON array, {"leads": [...]} or NDJSON) holds at most this many leads (leads.intake.batches).
LEAD_MAX_BATCH_LEADS = env_int("LEAD_MAX_BATCH_LEADS", 100, minimum=1)
LEAD_LEDGER_BODY_BYTES = env_int("LEAD_LEDGER_BODY_BYTES", LEAD_MAX_BODY_BYTES, minimum=0)
LEAD_DEDUPE_WINDOW_SECONDS = env_int("LEAD_DEDUPE_WINDOW_SECONDS", 60, minimum=0)
# How stale a process's copy of the admin-added field aliases may be (leads.intake.aliases).
LEAD_ALIAS_REFRESH_SECONDS = env_int("LEAD_ALIAS_REFRESH_SECONDS", 60, minimum=0)
LEAD_RETRY_AFTER_SECONDS = env_int("LEAD_RETRY_AFTER_SECONDS", 30, minimum=1)
# The longest a webhook's write may wait for a lock in PostgreSQL (a migration's, say) before it is cancelled
# and the partner told 503: below the partners' 10-second timeout (guide §2), with room for the rest of the request.
LEAD_STORE_TIMEOUT_SECONDS = env_int("LEAD_STORE_TIMEOUT_SECONDS", 6, minimum=1)
LEAD_RATE_LIMIT_SOFT = env_rate("LEAD_RATE_LIMIT_SOFT", "120/m")
LEAD_RATE_LIMIT_HARD = env_rate("LEAD_RATE_LIMIT_HARD", "600/m")
LEAD_RATE_LIMIT_AUTH_FAILURES = env_rate("LEAD_RATE_LIMIT_AUTH_FAILURES", "30/m")
# Per key, how many leads refused at the hard limit keep their bodies in the ledger for replay; the rest of the
# window's are counted on one row without (leads.intake.throttling): a key cannot fill the database past its limit.
LEAD_REFUSED_BODIES_KEPT = env_rate("LEAD_REFUSED_BODIES_KEPT", "100/m")
# A cache that cannot answer must not turn leads away; raamcrm.limits logs it.
RATELIMIT_FAIL_OPEN = True
# Admin sign-in guessing (raamcrm.sign_in_guard): failed sign-ins per client address, whatever the username; per
# username from one address (or one known browser); per username from all addresses, which locks out only browsers
# that have not signed in as the account before, so nobody can lock a colleague out of their own browser.
LOGIN_RATE_LIMIT_IP = env_rate("LOGIN_RATE_LIMIT_IP", "20/15m")
LOGIN_RATE_LIMIT_USERNAME = env_rate("LOGIN_RATE_LIMIT_USERNAME", "5/15m")
LOGIN_RATE_LIMIT_ACCOUNT = env_rate("LOGIN_RATE_LIMIT_ACCOUNT", "10/15m")
OTP_TOTP_ISSUER = "Raam CRM"
# Who must enrol a second factor before using the admin (raamcrm.second_factor): "superusers", "managers" (anyone
# who may export leads), or "none". Everyone in those roles may enrol whatever this says.
REQUIRE_2FA_FOR = [role for role in env_list("REQUIRE_2FA_FOR", ["superusers", "managers"]) if role != "none"]
if unknown_roles := set(REQUIRE_2FA_FOR) - {"superusers", "managers"}:
    raise ImproperlyConfigured(f"REQUIRE_2FA_FOR names no role: {', '.join(sorted(unknown_roles))}.")
# The admin's queries (raamcrm.statement_timeout; 0: none). The webhooks keep LEAD_STORE_TIMEOUT_SECONDS instead.
ADMIN_STATEMENT_TIMEOUT_MS = env_int("ADMIN_STATEMENT_TIMEOUT_MS", 5000, minimum=0)
# A list's search is cut to this many words of this many characters (leads.admin.query_budget).
ADMIN_SEARCH_MAX_TERMS = env_int("ADMIN_SEARCH_MAX_TERMS", 10, minimum=1)
ADMIN_SEARCH_MAX_TERM_CHARS = env_int("ADMIN_SEARCH_MAX_TERM_CHARS", 50, minimum=1)
# Lead rows one user may page through in an hour before the reading is on file like an export (0: never).
LEAD_BULK_READ_AUDIT_ROWS = env_int("LEAD_BULK_READ_AUDIT_ROWS", 500, minimum=0)
SUPPORT_EMAIL = env_str("SUPPORT_EMAIL", "support@raamgroup.in")
INTEGRATION_EMAIL = env_str("INTEGRATION_EMAIL", "integration@raamgroup.in")
# check_lead_flow: when to alert.
LEAD_ALERT_5XX_SHARE = float(env_int("LEAD_ALERT_5XX_PERCENT", 5, minimum=0)) / 100
LEAD_ALERT_MIN_5XX = env_int("LEAD_ALERT_MIN_5XX", 3, minimum=1)
# ...and when more than this share of a partner's keyed deliveries, and at least this many, were refused (4xx).
LEAD_ALERT_REFUSED_SHARE = float(env_int("LEAD_ALERT_REFUSED_PERCENT", 20, minimum=0)) / 100
LEAD_ALERT_MIN_REFUSED = env_int("LEAD_ALERT_MIN_REFUSED", 3, minimum=1)
LEAD_ALERT_SILENT_BUSINESS_HOURS = env_int("LEAD_ALERT_SILENT_BUSINESS_HOURS", 4, minimum=1)
LEAD_ALERT_NORMAL_LEADS_PER_WEEK = env_int("LEAD_ALERT_NORMAL_LEADS_PER_WEEK", 5, minimum=1)
# Dealership hours in Asia/Kolkata; Sunday is the partners' maintenance day (guide §7).
LEAD_BUSINESS_HOURS = (
    env_int("LEAD_BUSINESS_HOUR_START", 9, minimum=0),
    env_int("LEAD_BUSINESS_HOUR_END", 19, minimum=1),
)
# leads.checks refuses a name that is no day (leads.common.business_time.DAY_NAMES) and hours that are no day's.
LEAD_BUSINESS_DAYS = [day.lower() for day in env_list("LEAD_BUSINESS_DAYS", ["mon", "tue", "wed", "thu", "fri", "sat"])]
# Speed to lead (leads.sales.sla), in business minutes: a lead not contacted within the first is overdue and the
# Sales managers are told; past the second (0: never) it goes to the next person on duty.
LEAD_FIRST_CONTACT_MINUTES = env_int("LEAD_FIRST_CONTACT_MINUTES", 15, minimum=1)
LEAD_REASSIGN_AFTER_MINUTES = env_int("LEAD_REASSIGN_AFTER_MINUTES", 0, minimum=0)
LEAD_PRUNE_AFTER_DAYS = env_int("LEAD_PRUNE_AFTER_DAYS", 90, minimum=1)
# Test leads (from staging keys) are deleted after this many days.
LEAD_TEST_PRUNE_AFTER_DAYS = env_int("LEAD_TEST_PRUNE_AFTER_DAYS", 7, minimum=1)
# Buyers' raw payloads and ledger bodies are blanked by the nightly prune after this many days (DPDP Rules:
# delete personal data once its purpose is served); the mapped fields stay for sales history and reports.
LEAD_PAYLOAD_RETENTION_DAYS = env_int("LEAD_PAYLOAD_RETENTION_DAYS", 365, minimum=1)
# How many proxies in front of us append to X-Forwarded-For. Render adds exactly one hop.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1, minimum=0)

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "raamcrm.logs.JsonFormatter"}},
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "once_per_10_minutes": {"()": "raamcrm.reporting.OncePerWindow", "seconds": 600},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        # 5xx responses reach ADMINS by email, at most one mail per error type per ten minutes (the next
        # one says how many were not mailed), so an outage is one alert rather than one per lead.
        "mail_admins": {
            "class": "raamcrm.reporting.ScrubbingAdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "once_per_10_minutes"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our own request line replaces Django's; Django's still reports 5xx to the admins.
        "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["stdout", "mail_admins"], "level": "ERROR", "propagate": False},
        "django.server": {"level": "WARNING"},
        # The job queue lists every task it registers each time any process starts.
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
    },
}
