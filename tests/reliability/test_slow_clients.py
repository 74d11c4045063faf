"""Clients that trickle their request cannot keep real leads waiting (raamcrm/gunicorn_worker.py).

Against the production gunicorn config: no thread count or deadline is changed here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import selectors
import socket
import threading
import time

import pytest

from devservers import wait_for
from leads.models import Delivery, Lead
from leads.partners import CARDEKHO
from raamcrm.gunicorn_worker import ARRIVAL_LIMIT, Arrival, request_arrival
from tests.servers import gunicorn, post_json, server_env

KEY = "slow-client-test-key"
DEADLINE = 5  # REQUEST_READ_DEADLINE's default

START = (
    f"POST {CARDEKHO.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
    f"X-API-Key: {KEY}\r\nContent-Type: application/json\r\n"
)
# What each kind of trickler sends at once, then one more byte a second.
TRICKLERS = {
    "headers": (START + "Content-Length: 1000\r\nX-Slow: ", b"a"),
    "body": (START + "Content-Length: 1000\r\n\r\n{", b" "),
    "chunked body": (START + "Transfer-Encoding: chunked\r\n\r\n400\r\n{", b" "),
}


class Tricklers:
    """Connections that each send the start of a request, then one byte a second until the server
    hangs up on them; all on one thread, as an attacker would run them."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.closed_after: dict[str, list[float]] = {kind: [] for kind in TRICKLERS}
        self.rounds_sent = 0  # a byte from each connection still open, a second apart
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Tricklers:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wait_until_all_closed(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        kinds = list(TRICKLERS)
        for n in range(self.count):
            kind = kinds[n % len(kinds)]
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(TRICKLERS[kind][0].encode())
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, (kind, time.monotonic()))
        next_byte = time.monotonic() + 1
        while selector.get_map() and not self._stop.is_set():
            for key, _ in selector.select(timeout=max(0, next_byte - time.monotonic())):
                with contextlib.suppress(OSError):
                    if key.fileobj.recv(4096):  # an answer before the request ended: not a hang-up yet
                        continue
                kind, started = key.data
                self.closed_after[kind].append(time.monotonic() - started)
                selector.unregister(key.fileobj)
                key.fileobj.close()
            if time.monotonic() >= next_byte:
                next_byte += 1
                for key in list(selector.get_map().values()):
                    with contextlib.suppress(OSError):
                        key.fileobj.send(TRICKLERS[key.data[0]][1])
                self.rounds_sent += 1
        for key in list(selector.get_map().values()):
            key.fileobj.close()
        selector.close()


def test_a_real_lead_gets_its_201_within_two_seconds_while_64_connections_trickle_their_requests():
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=2) as base:
        port = int(base.rsplit(":", 1)[1])
        with Tricklers(port, 64) as slow:
            wait_for(lambda: slow.rounds_sent >= 1, timeout=10, what="every trickler connected and a byte in")
            started = time.monotonic()
            try:
                status, body, _ = post_json(f"{base}{CARDEKHO.path}", dict(CARDEKHO.sample), key=KEY, timeout=20)
            except TimeoutError:
                status, body = None, {}
            waited = time.monotonic() - started
            slow.wait_until_all_closed(timeout=3 * DEADLINE)

    assert waited < 2, f"the real lead took {waited:.1f} s"
    assert status == 201, body
    assert Lead.objects.filter(public_id=body["id"]).count() == 1
    # Each trickler is cut off once the deadline passes, counted from when it connected.
    for kind, closed_after in slow.closed_after.items():
        assert len(closed_after) == len(range(list(TRICKLERS).index(kind), 64, len(TRICKLERS))), kind
        assert all(DEADLINE - 0.5 < after < DEADLINE + 2 for after in closed_after), (kind, closed_after)
    # None of them reached the webhook: nothing was stored from a request that never finished.
    assert Delivery.objects.count() == 1


def post_chunked(base: str, parts: list[bytes]) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=10)
    try:
        headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https", "X-API-Key": KEY}
        connection.request("POST", CARDEKHO.path, body=iter(parts), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_lead_is_stored():
    payload = json.dumps(dict(CARDEKHO.sample)).encode()
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=1) as base:
        status, body = post_chunked(base, [payload[:10], payload[10:]])

    assert status == 201, body
    assert Lead.objects.filter(public_id=body["id"]).count() == 1


def test_a_chunked_body_too_large_to_hold_while_it_arrives_is_still_cut_off_at_the_deadline():
    """A body larger than the worker holds on its event loop goes to a thread as it comes. The
    webhook reads a chunked body to its end, so a client trickling one forever would hold that
    thread forever without the deadline."""
    deadline = 2
    # The webhook accepts bodies up to 1 MiB here, so it keeps reading past the 256 KiB sent at once.
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY, LEAD_MAX_BODY_BYTES=str(1024 * 1024))
    env["REQUEST_READ_DEADLINE"] = str(deadline)
    with gunicorn(env, workers=1) as base:
        sock = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=3 * deadline + 5)
        started = time.monotonic()
        sock.sendall((START + "Transfer-Encoding: chunked\r\n\r\n").encode())
        # One chunk of 1 MiB, of which the first 256 KiB come at once and the rest a byte a second.
        sock.sendall(b'%x\r\n{"note": "%s' % (1024 * 1024, b"x" * 256 * 1024))
        answer = b""
        with contextlib.suppress(OSError):
            while not answer and time.monotonic() - started < 3 * deadline + 5:
                sock.settimeout(1)
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(4096) or b"closed"
                    break
                sock.sendall(b"x")
        closed_after = time.monotonic() - started
        sock.close()

    assert not answer.startswith(b"HTTP/1.1 201"), answer
    assert closed_after < deadline + 2, f"still connected after {closed_after:.1f} s"
    assert Lead.objects.count() == 0


def test_a_client_that_waits_for_100_continue_gets_it_before_sending_its_body():
    """The worker holds a request until its body has arrived; a client that sends the body only
    after a ``100 Continue`` (curl does, for larger bodies) must not wait for it in vain."""
    payload = json.dumps(dict(CARDEKHO.sample)).encode()
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=1) as base:
        sock = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=2)
        sock.sendall(f"{START}Expect: 100-continue\r\nContent-Length: {len(payload)}\r\n\r\n".encode())
        interim = sock.recv(4096)
        sock.sendall(payload)
        answer = b""
        while not answer.endswith(b"}") and (received := sock.recv(4096)):
            answer += received
        sock.close()

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert b"HTTP/1.1 201 Created\r\n" in answer, answer
    assert Lead.objects.count() == 1


HEAD = b"POST /x HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "arrival"),
    [
        (HEAD + b"\r\n", Arrival.WHOLE),
        (HEAD, Arrival.PARTIAL),
        (HEAD + b"Content-Length: 3\r\n\r\nabc", Arrival.WHOLE),
        (HEAD + b"Content-Length: 4\r\n\r\nabc", Arrival.PARTIAL),
        (HEAD + b"Content-Length: 3\r\n\r\nabcGET / HT", Arrival.WHOLE),  # the next request pipelined
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", Arrival.WHOLE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nTrailer: t\r\n", Arrival.PARTIAL),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nTrailer: t\r\n\r\n", Arrival.WHOLE),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n7\r\n0\r\n\r\nab", Arrival.PARTIAL),  # a last chunk lookalike
        (HEAD + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Arrival.WHOLE),
        # gunicorn refuses these at once, without reading a body
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", Arrival.STREAMED),
        (HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", Arrival.STREAMED),
        (HEAD + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\n", Arrival.STREAMED),
        (b"GET / HTTP/1.1\nHost: x\n\n", Arrival.STREAMED),
        # too large to hold while it arrives
        (HEAD + b"Content-Length: 999999\r\n\r\n" + b"a" * ARRIVAL_LIMIT, Arrival.STREAMED),
        (HEAD + b"X-Long: " + b"a" * ARRIVAL_LIMIT, Arrival.HEAD_TOO_LARGE),
    ],
)
def test_the_worker_tells_a_request_that_has_all_arrived_from_one_still_arriving(request_bytes, arrival):
    assert request_arrival(request_bytes)[0] is arrival
