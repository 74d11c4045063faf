"""A worker stopping while clients keep connecting (a deploy, a scale-down, the master replacing a
stuck worker): new connections go to the other workers, none waits on the stopping one.

With ``reuse_port`` every worker listens on a socket of its own. Left open while the worker
finishes its last requests, the kernel keeps queuing new connections on it, and resets them when
the process exits. raamcrm/gunicorn_worker.py closes it as soon as the worker stops accepting."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devservers import wait_for
from tests.servers import gunicorn, gunicorn_workers, listening_sockets, server_env, wait_for_listeners

pytestmark = pytest.mark.django_db(transaction=True)


def health_on_a_new_connection(port: int) -> int | str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz", headers={"Connection": "close"})
        return connection.getresponse().status
    except OSError as error:  # reset, refused, timed out: what a partner would see
        return type(error).__name__
    finally:
        connection.close()


def test_a_stopping_worker_hands_its_socket_back_and_no_new_connection_waits_on_it():
    with gunicorn(server_env(), workers=2) as base:
        port = int(base.rsplit(":", 1)[1])
        assert wait_for_listeners(base, 2) == 2
        # Connections kept alive on both workers: a stopping worker lingers up to 2 s over its own.
        kept_alive = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(16)]
        for connection in kept_alive:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        stopping = gunicorn_workers(base)[0]

        os.kill(stopping, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):  # asserted below
            # Well inside the worker's 2 s of lingering, so a socket left open is still seen open.
            wait_for(lambda: listening_sockets(base) == 1, timeout=1, what="the stopping worker's socket closed")
        sockets_while_it_finishes = listening_sockets(base)
        still_finishing = Path(f"/proc/{stopping}").exists()
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(lambda _: health_on_a_new_connection(port), range(200)))
        for connection in kept_alive:
            connection.close()

    assert still_finishing, "the worker exited at once; the test needs it to linger over its connections"
    assert sockets_while_it_finishes == 1
    failures = [o for o in outcomes if o != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} failed: {sorted(set(map(str, failures)))}"
