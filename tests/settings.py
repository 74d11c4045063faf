"""Test settings: production's module, made fast. Everything else still comes from the environment."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from raamcrm.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # no collectstatic before tests
# The test client speaks plain HTTP; test_security.py checks the redirect with it turned on.
SECURE_SSL_REDIRECT = False
