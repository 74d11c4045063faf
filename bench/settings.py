"""Settings for the benchmarks: production's module, with a baseline admin mounted beside ours."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/raamcrm_bench")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from raamcrm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_AUTOREFRESH = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
LOGGING["loggers"]["raamcrm.requests"] = {"level": "WARNING"}  # noqa: F405
