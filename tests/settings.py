"""Test settings: production's module, made fast. Everything else still comes from the environment."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
# Tests not about the second factor sign staff in with a password alone (tests/test_admin_two_factor.py turns
# production's default back on); set here so the server processes tests start see it too.
os.environ.setdefault("REQUIRE_2FA_FOR", "none")

# With no DATABASE_URL or REDIS_URL (a fresh clone), the session starts a PostgreSQL and a Redis of its
# own, gone when it ends, so two runs (or a run beside `make run`) never meet. CI names the machine's.
# They go in the environment so every server process a test starts uses the same ones.
if not os.environ.get("DATABASE_URL"):
    from devservers.postgres import throwaway_cluster_for_this_process

    os.environ["DATABASE_URL"] = throwaway_cluster_for_this_process().url()
if not os.environ.get("REDIS_URL"):
    from devservers.redis import private_redis_for_this_process

    os.environ["REDIS_URL"] = private_redis_for_this_process().url

from raamcrm.settings import *  # noqa: F403

# The test client serves one request at a time on this thread, with no pool to share; and the outage tests point
# the connection at a closed port, which a pool opened on the real one would never see. The live servers the
# tests start (tests/servers.py) run production's settings, pool and all.
DATABASES["default"]["OPTIONS"].pop("pool")  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # no collectstatic before tests
# The test client speaks plain HTTP; test_security.py checks the redirect with it turned on.
SECURE_SSL_REDIRECT = False
