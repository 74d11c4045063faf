"""GET /healthz: cheap, never rate-limited, and honest about PostgreSQL and the cache."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import override_settings

pytestmark = pytest.mark.django_db

BROKEN_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def test_healthy_service_is_200_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert response["Cache-Control"] == "no-store"


@override_settings(CACHES=BROKEN_REDIS)
def test_unreachable_cache_is_200_degraded_naming_it_since_leads_are_still_stored(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "down"}


@override_settings(SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["crm.example.in"])
def test_plain_http_from_any_host_is_answered_not_redirected(client):
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:10000")

    assert response.status_code == 200


@override_settings(LEAD_RATE_LIMIT_AUTH_FAILURES="1/d", LOGIN_RATE_LIMIT_IP="1/d")
def test_is_never_rate_limited(client):
    statuses = {client.get("/healthz").status_code for _ in range(30)}

    assert statuses == {200}


def test_trailing_slash_works_too(client):
    assert client.get("/healthz/").status_code == 200


@contextlib.contextmanager
def database_outage() -> Iterator[None]:
    # Django reconnects lazily: pointed at a closed port, its next query finds the database down.
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


@pytest.mark.django_db(transaction=True)
def test_unreachable_database_is_503_down(client):
    with database_outage():
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "down", "cache": "ok"}


@pytest.mark.django_db(transaction=True)
def test_a_healthy_check_writes_no_access_line_but_a_failing_one_does(client, caplog):
    with caplog.at_level("INFO", logger="raamcrm.requests"):
        client.get("/healthz")
        with database_outage():
            client.get("/healthz")

    lines = [r for r in caplog.records if r.name == "raamcrm.requests"]
    assert [r.status for r in lines] == [503]
