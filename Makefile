# The two commands a newcomer needs: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run serve test test-fast lint axe

$(VENV)/ready: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Serves the app at http://127.0.0.1:8000 on an embedded PostgreSQL whose data lives in .pgdata/, stopped
# again when the server stops, and prints a working curl. With DATABASE_URL set, on that database instead.
run: $(VENV)/ready
	$(PY) -m devservers.postgres .pgdata -- $(MAKE) --no-print-directory serve

# What `run` does once DATABASE_URL names a database: production's web server (render.yaml's start command, on
# loopback; no auto-reload: restart it after a change). The job queue's worker runs beside it and stops with it;
# mail goes to this terminal, so a posted lead's alert shows up here.
serve: export DEBUG := 1
serve: export EMAIL_BACKEND := django.core.mail.backends.console.EmailBackend
serve: export PUBLIC_BASE_URL := http://127.0.0.1:8000
# The demo superuser signs in without enrolling a second factor first; production requires it (REQUIRE_2FA_FOR).
serve: export REQUIRE_2FA_FOR ?= none
serve: $(VENV)/ready
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py quickstart
	$(PY) manage.py procrastinate worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(PY) -m gunicorn --config gunicorn.conf.py --bind 127.0.0.1:8000

# The whole suite, on a PostgreSQL and a Redis it starts for itself; on DATABASE_URL and REDIS_URL when
# they are set, as in CI.
test: $(VENV)/ready
	$(PY) -m pytest

# The inner loop: everything but the reliability suite (tests/reliability/, which starts servers and waits on
# real clocks).
test-fast: $(VENV)/ready
	$(PY) -m pytest --ignore=tests/reliability

lint: $(VENV)/ready
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

# axe-core for the accessibility test (tests/test_accessibility.py skips without it; CI runs it): needs npm.
axe: node_modules/axe-core/axe.min.js
node_modules/axe-core/axe.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
