"""Configuration comes only from the environment, and a bad value stops the process loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from raamcrm import env


def load_settings(**environ: str) -> subprocess.CompletedProcess[str]:
    """Import the real settings module in a fresh interpreter with exactly this environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "LEAD_",
                "DEBUG",
                "SECRET_KEY",
                "CARDEKHO",
                "CARWALE",
                "DATABASE_URL",
                "REDIS_URL",
                "ALLOWED_HOSTS",
                "RENDER_",
            )
        )
    }
    code = (
        "import raamcrm.settings as s; "
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.LEAD_API_KEYS, s.TIME_ZONE, s.USE_TZ, s.SECURE_PROXY_SSL_HEADER)"
    )
    # The settings require a PostgreSQL URL; importing them opens no connection, so any will do.
    database = {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/unused"}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **database, **environ}, capture_output=True, text=True, timeout=60
    )


def test_debug_is_off_and_secret_key_required_by_default():
    result = load_settings()

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize("url", ["", "mysql://root@127.0.0.1/raam", "redis://127.0.0.1:6379/0"])
def test_anything_but_a_postgresql_url_stops_start_up_even_in_debug(url):
    result = load_settings(DEBUG="1", DATABASE_URL=url)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DATABASE_URL" in result.stderr


def test_production_like_environment_loads():
    result = load_settings(
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="crm.example.in, api.example.in",
        RENDER_EXTERNAL_HOSTNAME="raam.onrender.com",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" [")[0] == "False"
    assert "['crm.example.in', 'api.example.in', 'raam.onrender.com']" in result.stdout
    assert "Asia/Kolkata True ('HTTP_X_FORWARDED_PROTO', 'https')" in result.stdout


@pytest.mark.parametrize("name", ["LEAD_API_KEY_CARDEKHO", "CARDEKHO_API_KEY"])
def test_partner_key_is_read_from_either_alias(name):
    result = load_settings(SECRET_KEY="s", **{name: "key-from-env"})

    assert "{'cardekho': 'key-from-env'}" in result.stdout


def test_conflicting_partner_key_aliases_stop_start_up():
    result = load_settings(SECRET_KEY="s", LEAD_API_KEY_CARWALE="one", CARWALE_API_KEY="two")

    assert result.returncode != 0
    assert "LEAD_API_KEY_CARWALE and CARWALE_API_KEY are aliases but hold different values" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "ture"), ("LEAD_MAX_BODY_BYTES", "64k"), ("LEAD_RATE_LIMIT_HARD", "lots"), ("LOG_LEVEL", "verbose")],
)
def test_malformed_values_stop_start_up(name, value):
    result = load_settings(SECRET_KEY="s", **{name: value})

    assert result.returncode != 0
    assert f"{name}=" in result.stderr


def test_env_bool_rejects_unknown_words(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG='maybe' is not a boolean"):
        env.env_bool("SOME_FLAG")


def test_env_int_enforces_its_minimum(monkeypatch):
    monkeypatch.setenv("SOME_SIZE", "10")

    with pytest.raises(ImproperlyConfigured, match="SOME_SIZE=10 must be at least 1024"):
        env.env_int("SOME_SIZE", 2048, minimum=1024)


def test_every_read_is_recorded():
    env.env_str("RECORDED_NAME")

    assert "RECORDED_NAME" in env.READ


def test_env_str_gives_its_default_for_an_unset_or_empty_variable(monkeypatch):
    monkeypatch.delenv("SOME_NAME", raising=False)
    monkeypatch.setenv("SOME_EMPTY_NAME", "  ")

    assert env.env_str("SOME_NAME", "fallback") == "fallback"
    assert env.env_str("SOME_EMPTY_NAME", "fallback") == "fallback"
    assert env.env_str("SOME_NAME") is None


@pytest.mark.parametrize("value", ["lots", "120", "120/minute", "5/0m"])
def test_env_rate_rejects_what_is_not_a_rate(monkeypatch, value):
    monkeypatch.setenv("SOME_RATE", value)

    with pytest.raises(ImproperlyConfigured, match=f"SOME_RATE='{value}' is not a rate like 120/m"):
        env.env_rate("SOME_RATE", "120/m")


def test_env_rate_accepts_a_count_per_several_units(monkeypatch):
    monkeypatch.setenv("SOME_RATE", "100/5m")

    assert env.env_rate("SOME_RATE", "120/m") == "100/5m"


def manage_check(**environ: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**clean, **environ},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_redis_fails_the_system_check():
    result = manage_check(SECRET_KEY="s")

    assert result.returncode != 0
    assert "django_ratelimit.E003" in result.stderr


def test_quick_start_without_redis_passes_the_system_check():
    result = manage_check(DEBUG="1")

    assert result.returncode == 0, result.stderr


def test_sentry_is_initialised_with_the_scrubber_when_a_dsn_is_set():
    code = (
        "import raamcrm.settings, sentry_sdk; "
        "options = sentry_sdk.get_client().options; "
        "print(options['dsn'], options['before_send'].__name__, sentry_sdk.get_client().should_send_default_pii())"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SENTRY_DSN")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "SECRET_KEY": "s", "SENTRY_DSN": "https://public@sentry.example.invalid/1"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["https://public@sentry.example.invalid/1", "scrub_sentry_event", "False"]
