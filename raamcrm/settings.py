"""Settings for Raam CRM. Everything that varies between machines comes from the environment."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from leads.partners import PARTNERS
from raamcrm.env import env_bool, env_first, env_int, env_list, env_rate, env_str

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

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_ratelimit",
    "leads",
]

MIDDLEWARE = [
    "raamcrm.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "raamcrm.urls"
WSGI_APPLICATION = "raamcrm.wsgi.application"

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

# The embedded default is a SQLite file, so a newcomer needs no server.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so the dedupe read-then-insert cannot interleave.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
else:
    # Fail fast when PostgreSQL is down: the partner's timeout is 10 s and we answer 503 well within it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
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
    if DEBUG:
        # The single-process quick start is the one place a per-process limiter is acceptable.
        SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

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
STATIC_ROOT = BASE_DIR / "staticfiles"
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

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "leads.api.exceptions.exception_handler",
}

# --- Lead intake -------------------------------------------------------------
# Partner keys from the environment. Each partner's variables are aliases (guide §3.1 and §8).
LEAD_API_KEYS: dict[str, str] = {partner.slug: key for partner in PARTNERS if (key := env_first(*partner.env_vars))}
LEAD_MAX_BODY_BYTES = env_int("LEAD_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
# Django refuses larger bodies on its own; ours is the tighter, JSON-answered limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(LEAD_MAX_BODY_BYTES, 2_621_440)
LEAD_LEDGER_BODY_BYTES = env_int("LEAD_LEDGER_BODY_BYTES", LEAD_MAX_BODY_BYTES, minimum=0)
LEAD_DEDUPE_WINDOW_SECONDS = env_int("LEAD_DEDUPE_WINDOW_SECONDS", 60, minimum=0)
LEAD_RETRY_AFTER_SECONDS = env_int("LEAD_RETRY_AFTER_SECONDS", 30, minimum=1)
LEAD_RATE_LIMIT_SOFT = env_rate("LEAD_RATE_LIMIT_SOFT", "120/m")
LEAD_RATE_LIMIT_HARD = env_rate("LEAD_RATE_LIMIT_HARD", "600/m")
LEAD_RATE_LIMIT_AUTH_FAILURES = env_rate("LEAD_RATE_LIMIT_AUTH_FAILURES", "30/m")
# A cache that cannot answer must not turn leads away; leads.ratelimits logs it.
RATELIMIT_FAIL_OPEN = True
# How many proxies in front of us append to X-Forwarded-For. Render adds exactly one hop.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1, minimum=0)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "raamcrm.logs.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Our own request line replaces Django's; keep Django's for 5xx detail only.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
