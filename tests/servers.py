"""Real server processes for tests whose point is more than one process: the web server on loopback, started
with render.yaml's own start command (gunicorn with gunicorn.conf.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml
from django.db import connection

from devservers import free_port, stop_process, wait_for

ROOT = Path(__file__).resolve().parent.parent


def start_command() -> list[str]:
    """The web service's startCommand in render.yaml, run by this interpreter."""
    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    (web,) = (service for service in blueprint["services"] if service["type"] == "web")
    program, *args = shlex.split(web["startCommand"])
    return [sys.executable, "-m", program, *args]


def current_database_url() -> str:
    """The URL of the database this test run uses, so a server process writes where the test reads."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def server_env(**overrides: str) -> dict[str, str]:
    """Environment for a server process: this run's database and Redis (tests/settings.py sees to both),
    and a cache namespace of its own so no counter leaks between tests."""
    env = {
        "DATABASE_URL": current_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "CACHE_KEY_PREFIX": f"t-{uuid.uuid4().hex}",
    }
    return {**env, **overrides}


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], *, workers: int = 1, extra_args: tuple[str, ...] = (), log: Path | None = None
) -> Iterator[str]:
    """Start the web server as render.yaml does, on a free loopback port; yield its base URL; stop it.
    ``log`` is a file to receive what the server writes to stdout (its JSON log lines)."""
    port = free_port()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LEAD_", "DJANGO_SETTINGS_MODULE"))},
        "SECRET_KEY": "tests-only-not-a-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_CONCURRENCY": str(workers),
        **env,
    }
    stdout = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [*start_command(), "--bind", f"127.0.0.1:{port}", *extra_args],
        cwd=ROOT,
        env=environ,
        stdout=stdout,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def accepts() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            return False

        wait_for(accepts, timeout=30, what="gunicorn to accept connections", interval=0.1)
        yield base
    finally:
        stop_process(process)
        if log:
            stdout.close()


def listening_sockets(base: str) -> int:
    """How many sockets listen on ``base``'s port."""
    port = f":{int(base.rsplit(':', 1)[1]):04X}"
    sockets = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for s in sockets if s[1].endswith(port) and s[3] == "0A")  # 0A: LISTEN


def gunicorn_workers(base: str) -> list[int]:
    """The worker pids of the gunicorn serving ``base``: the processes started with its address
    whose parent is one of them (the master)."""
    bind = f"127.0.0.1:{base.rsplit(':', 1)[1]}".encode()
    parents = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and bind in (entry / "cmdline").read_bytes():
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return sorted(pid for pid, parent in parents.items() if parent in parents)


def post_json(url: str, payload: object, *, key: str | None, timeout: float = 10) -> tuple[int, dict, dict]:
    """POST like a partner; returns status, JSON body and headers, whatever the status."""
    # Render terminates TLS and says so in X-Forwarded-Proto; without it we would redirect to HTTPS.
    headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
    if key is not None:
        headers["X-API-Key"] = key
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback only)
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


def health(base: str) -> tuple[int, bytes]:
    """GET ``base``/healthz: its status and body, whatever the status."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:  # noqa: S310 (loopback only)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
