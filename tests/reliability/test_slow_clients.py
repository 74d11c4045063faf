"""Clients that trickle their request cannot tie up every worker thread (raamcrm/gunicorn_worker.py)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from leads.models import Lead
from leads.partners import CARDEKHO
from tests.servers import gunicorn, post_json, server_env

KEY = "slow-client-test-key"
WORKERS, THREADS, DEADLINE = 1, 2, 2


HEADERS = (
    f"POST {CARDEKHO.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
    f"X-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
)


def trickle(port: int, stop: threading.Event, closed_after: list[float], *, in_headers: bool) -> None:
    """Send the request up to its last header (``in_headers``) or into its 1,000-byte body, then one
    byte a second until the server hangs up."""
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall((HEADERS + "X-Slow: " if in_headers else HEADERS + "\r\n{").encode())
        while not stop.is_set():
            time.sleep(1)
            sock.sendall(b"a" if in_headers else b" ")
    except OSError:
        closed_after.append(time.monotonic() - started)
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def test_slow_clients_are_cut_off_and_real_leads_still_get_through():
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY, GUNICORN_THREADS=str(THREADS), REQUEST_READ_DEADLINE=str(DEADLINE))
    stop, closed_after = threading.Event(), []
    with gunicorn(env, workers=WORKERS) as base:
        port = int(base.rsplit(":", 1)[1])
        # Twice as many tricklers as there are threads in the whole server, half in their headers.
        slow = [
            threading.Thread(target=trickle, args=(port, stop, closed_after), kwargs={"in_headers": n % 2 == 0})
            for n in range(2 * WORKERS * THREADS)
        ]
        for thread in slow:
            thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        status, body, _ = post_json(f"{base}{CARDEKHO.path}", dict(CARDEKHO.sample), key=KEY, timeout=20)
        waited = time.monotonic() - started
        # Each trickler ends when the server hangs up on it; stop is only a safety net.
        for thread in slow:
            thread.join(timeout=4 * DEADLINE + 5)
        stop.set()

    assert status == 201, body
    assert Lead.objects.filter(public_id=body["id"]).exists()
    # The real lead waits at most for the tricklers ahead of it to be cut off, never indefinitely.
    assert waited < 3 * DEADLINE + 2
    assert len(closed_after) == 2 * WORKERS * THREADS
    # Queued tricklers wait for a thread first, then get their own deadline.
    assert all(after < 3 * DEADLINE + 3 for after in closed_after), closed_after
