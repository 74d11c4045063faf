"""quickstart, as `make run` calls it: on a SQLite file, demo leads, a demo admin and a working curl."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.servers import ROOT


@pytest.fixture
def manage(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'quick.sqlite3'}")

    def run(*args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**env, **(environ or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run("migrate", "--noinput", "-v0").returncode == 0
    run.database = tmp_path / "quick.sqlite3"
    return run


def count(database, sql: str) -> int:
    with sqlite3.connect(database) as db:
        return db.execute(sql).fetchone()[0]


def test_first_run_seeds_demo_leads_a_demo_user_and_prints_curls(manage):
    result = manage("quickstart")

    assert result.returncode == 0, result.stderr
    assert count(manage.database, "SELECT COUNT(*) FROM leads_lead") == 6
    assert count(manage.database, "SELECT COUNT(*) FROM auth_user WHERE username = 'demo' AND is_superuser") == 1
    assert "as 'demo' with password " in result.stdout
    assert result.stdout.count("curl -i -X POST http://127.0.0.1:8000/admin/mg-digital-leads/source/") == 2
    assert (
        count(manage.database, "SELECT COUNT(*) FROM leads_apikey WHERE label = 'quickstart' AND revoked_at IS NULL")
        == 2
    )


def test_demo_leads_never_collide_with_the_guide_samples():
    from leads.management.commands.quickstart import DEMO_LEADS
    from leads.partners import PARTNERS
    from leads.phones import normalise_phone

    samples = {normalise_phone(str(p.sample[p.aliases["phone_number"][0]])).digits for p in PARTNERS}
    assert samples.isdisjoint(normalise_phone(phone).digits for _, _, phone, *_ in DEMO_LEADS)


def test_second_run_shows_no_password_and_adds_no_leads(manage):
    manage("quickstart")

    result = manage("quickstart")

    assert "with password" not in result.stdout
    assert "changepassword demo" in result.stdout
    assert count(manage.database, "SELECT COUNT(*) FROM leads_lead") == 6
    assert (
        count(manage.database, "SELECT COUNT(*) FROM leads_apikey WHERE label = 'quickstart' AND revoked_at IS NULL")
        == 2
    )


@pytest.mark.usefixtures("requires_postgresql")
@pytest.mark.django_db
def test_refuses_anything_but_sqlite(manage):
    from tests.servers import current_database_url

    result = manage("quickstart", environ={"DATABASE_URL": current_database_url()})

    assert result.returncode != 0
    assert "only runs on the local SQLite default" in result.stderr
