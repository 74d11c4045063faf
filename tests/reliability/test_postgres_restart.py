"""PostgreSQL stopped and started under load: 503 + Retry-After meanwhile (and /healthz 503, so Render stops
routing to the instance), never a 201 without its row,
and back to 201s within 5 s of the server accepting connections, without restarting the app.

The server stopped is a private one, made for this test: never the machine's, and no root needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest

from devservers import wait_for
from devservers.postgres import EmbeddedPostgres, throwaway_cluster
from leads.models import Lead
from tests.reliability.load import Load
from tests.servers import ROOT, gunicorn, health, server_env

KEY = "pg-restart-test-key"


@pytest.fixture
def private_postgres() -> Iterator[EmbeddedPostgres]:
    """A migrated PostgreSQL of this test's own, so stopping it disturbs nothing else."""
    with throwaway_cluster() as server:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": server.url()},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrate.returncode == 0, migrate.stderr
        yield server


def stored_public_ids(server: EmbeddedPostgres, public_ids: set[str]) -> set[str]:
    table, column = Lead._meta.db_table, Lead._meta.get_field("public_id").column
    with psycopg.connect(server.url()) as conn:
        rows = conn.execute(
            f'SELECT "{column}"::text FROM "{table}" WHERE "{column}"::text = ANY(%s)',  # noqa: S608 (model names)
            [sorted(public_ids)],
        ).fetchall()
    return {row[0] for row in rows}


def test_postgres_restart_mid_load_is_503_then_recovers_within_5_seconds(private_postgres):
    # The load outpaces any partner; the ceiling is not what this test is about.
    env = server_env(DATABASE_URL=private_postgres.url(), LEAD_API_KEY_CARDEKHO=KEY, LEAD_RATE_LIMIT_HARD="100000/m")
    with gunicorn(env, workers=2) as base, Load(base=base, key=KEY) as load:
        wait_for(lambda: load.answered(201) >= 20, timeout=30, what="leads stored before the outage")
        private_postgres.stop()
        down_at = time.monotonic()
        wait_for(lambda: load.answered(503, sent_after=down_at), timeout=30, what="a 503 while PostgreSQL is down")
        while_down = health(base)
        private_postgres.start()
        wait_for(private_postgres.accepts_connections, timeout=30, what="PostgreSQL to accept connections again")
        up_at = time.monotonic()
        wait_for(lambda: load.answered(201, sent_after=up_at + 5) >= 20, timeout=30, what="leads stored after 5 s")

    assert while_down[0] == 503
    assert json.loads(while_down[1]) == {"status": "down", "database": "down", "cache": "ok"}
    outcomes = load.outcomes
    statuses = {o.status for o in outcomes}
    assert statuses <= {201, 503}, [(o.status, o.body) for o in outcomes if o.status not in (201, 503)][:3]
    during = [o for o in outcomes if down_at <= o.sent_at <= up_at]
    assert any(o.status == 503 for o in during), "the outage was never seen"
    assert all(int(o.headers.get("Retry-After", 0)) > 0 for o in outcomes if o.status == 503)
    created = {o.body["id"] for o in outcomes if o.status == 201}
    assert created == stored_public_ids(private_postgres, created), "a 201 was sent for a lead that is not stored"
    recovered = [o for o in outcomes if o.sent_at >= up_at + 5]
    assert recovered
    late = [(round(o.sent_at - up_at, 2), o.status, o.body) for o in recovered if o.status != 201]
    assert not late, (
        f"answers other than 201 more than 5 s after PostgreSQL came back (s after, status, body): {late[:5]}"
    )
