"""Servers a developer's machine need not have installed: an embedded PostgreSQL for `make run` and the
tests, and a private Redis for the tests. Development only: production never imports this package."""

import socket
import subprocess
from typing import Any


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], *, timeout: float = 15) -> None:
    """Ask a server process to stop, and kill it if it has not within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
