"""A worker stopping while clients keep connecting (a deploy, a scale-down, gunicorn replacing a stuck
worker): new connections go to the other worker, and none of them fails.

The workers share the master's one listening socket, so a stopping worker only stops accepting from it;
connections keep queuing there for the others (gunicorn.conf.py)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

from devservers import wait_for
from tests.servers import gunicorn, gunicorn_workers, listening_sockets, server_env

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


def test_a_stopping_worker_leaves_no_new_connection_failing_and_is_replaced():
    with gunicorn(server_env(), workers=2) as base:
        port = int(base.rsplit(":", 1)[1])
        workers = wait_for(lambda: len(w := gunicorn_workers(base)) == 2 and w, timeout=10, what="two workers")
        # Connections kept alive on the workers, which a stopping worker finishes with first.
        kept_alive = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(16)]
        for connection in kept_alive:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
        stopping = workers[0]

        os.kill(stopping, signal.SIGTERM)
        with ThreadPoolExecutor(max_workers=8) as pool:
            outcomes = list(pool.map(lambda _: health_on_a_new_connection(port), range(200)))
        for connection in kept_alive:
            connection.close()
        with contextlib.suppress(TimeoutError):  # asserted below
            wait_for(
                lambda: len(w := gunicorn_workers(base)) == 2 and stopping not in w, timeout=15, what="a new worker"
            )
        replaced = gunicorn_workers(base)
        sockets = listening_sockets(base)

    failures = [o for o in outcomes if o != 200]
    assert not failures, f"{len(failures)} of {len(outcomes)} failed: {sorted(set(map(str, failures)))}"
    assert len(replaced) == 2 and stopping not in replaced, replaced
    assert sockets == 1  # the master's, shared
