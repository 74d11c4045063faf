"""Settings for mypy's Django plugin, which imports them to learn the apps and models.

They must import on a bare checkout: no environment, no database, no Redis. Nothing here is ever connected to.
"""

import os

os.environ.setdefault("SECRET_KEY", "typecheck-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://typecheck@127.0.0.1:5432/typecheck")

from raamcrm.settings import *  # noqa: F403
