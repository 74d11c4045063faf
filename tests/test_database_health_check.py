"""A connection PostgreSQL has ended (a restart, a failover) is replaced before a lead meets it: the pool checks
each connection it hands out (CONN_HEALTH_CHECKS, raamcrm/settings.py)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from devservers import wait_for
from leads.partners import CARDEKHO
from tests.servers import current_database_url, gunicorn, post_json, server_env

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "health-check-test-key"


def end_sessions(pids: list[int]) -> None:
    """What a PostgreSQL restart or failover does to each session: end it, from the server's side."""
    with psycopg.connect(current_database_url(), autocommit=True) as other:
        for pid in pids:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"
        wait_for(lambda: not other.execute(alive, [pids]).fetchone()[0], timeout=5, what="the sessions to end")


def test_a_lead_after_the_server_ended_the_apps_pooled_connections_is_stored():
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY)
    with gunicorn(env) as base, psycopg.connect(current_database_url(), autocommit=True) as watcher:
        first = post_json(base + CARDEKHO.path, dict(CARDEKHO.sample), key=KEY)
        app_sessions = [
            pid
            for (pid,) in watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND pid <> %s AND backend_type = 'client backend'",
                [connection.connection.info.backend_pid if connection.connection else 0],
            )
        ]
        end_sessions(app_sessions)

        second = post_json(base + CARDEKHO.path, {**CARDEKHO.sample, "phone_number": "9811122233"}, key=KEY)

    assert first[0] == 201
    assert app_sessions, "the app kept no connection to end"
    assert second[0] == 201, second
