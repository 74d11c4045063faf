# The two commands a newcomer needs: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint

$(VENV)/ready: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Serves the app on the embedded SQLite default at http://127.0.0.1:8000 and prints a working curl.
run: $(VENV)/ready
	DEBUG=1 $(PY) manage.py migrate --noinput --verbosity 0
	DEBUG=1 $(PY) manage.py quickstart
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

# The whole suite. With DATABASE_URL (and REDIS_URL) set it runs on those, as CI does.
test: $(VENV)/ready
	$(PY) -m pytest

lint: $(VENV)/ready
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
