"""Servers a developer's machine need not have installed: an embedded PostgreSQL for `make run` and the
tests, and a private Redis for the tests. Development only: production never imports this package."""

import socket


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
