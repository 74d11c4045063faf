"""Clients that trickle their request, never read their answer, or hold connections open and say nothing
cannot keep a real lead waiting, and a request that has not arrived in time is cut off (raamcrm/http_server.py).
A body over the server's cap, or a head over its cap pipelined behind another request, is refused at once.

Against the server as render.yaml starts it: no worker count, deadline or limit is changed here, except in
the one test that says so.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import selectors
import socket
import threading
import time
import urllib.request

import pytest

from devservers import wait_for
from leads.models import Delivery, Lead
from leads.partners import CARDEKHO
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


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


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


def timed_lead(base: str) -> tuple[int | None, dict, float]:
    """POST a real lead; its status (None if it never came), body, and how long it took."""
    started = time.monotonic()
    try:
        status, body, _ = post_json(f"{base}{CARDEKHO.path}", dict(CARDEKHO.sample), key=KEY, timeout=20)
    except TimeoutError:
        status, body = None, {}
    return status, body, time.monotonic() - started


def test_a_real_lead_gets_its_201_within_two_seconds_while_64_connections_trickle_their_requests():
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=2) as base, Tricklers(port_of(base), 64) as slow:
        wait_for(lambda: slow.rounds_sent >= 1, timeout=10, what="every trickler connected and a byte in")
        status, body, waited = timed_lead(base)
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


def open_connections(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]


def seconds_until_closed(connections: list[socket.socket], *, opened: float, timeout: float) -> list[float]:
    """How long after ``opened`` the server hung up on each connection (reading what it sends meanwhile)."""
    selector = selectors.DefaultSelector()
    for sock in connections:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed_after = []
    give_up = time.monotonic() + timeout
    while selector.get_map() and time.monotonic() < give_up:
        for key, _ in selector.select(timeout=0.5):
            try:
                if key.fileobj.recv(65536):
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass  # reset: hung up too
            closed_after.append(time.monotonic() - opened)
            selector.unregister(key.fileobj)
    selector.close()
    return closed_after


def test_a_real_lead_gets_its_201_within_two_seconds_while_600_connections_sit_idle():
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=2) as base:
        opened = time.monotonic()
        idle = open_connections(port_of(base), 600)
        status, body, waited = timed_lead(base)
        closed_after = seconds_until_closed(idle, opened=opened, timeout=3 * DEADLINE)
        for sock in idle:
            sock.close()

    assert waited < 2, f"the real lead took {waited:.1f} s"
    assert status == 201, body
    # A connection that never sends a byte is cut off at the deadline too.
    assert len(closed_after) == 600
    assert max(closed_after) < DEADLINE + 3, max(closed_after)


def swagger_bundle(base: str) -> str:
    request = urllib.request.Request(f"{base}/api/docs/", headers={"X-Forwarded-Proto": "https"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback only)
        page = response.read().decode()
    return re.search(r'src="(/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle[^"]*\.js)"', page)[1]


def test_a_real_lead_gets_its_201_within_two_seconds_while_16_connections_pipeline_gets_and_never_read(
    static_root,
):
    env = server_env(LEAD_API_KEY_CARDEKHO=KEY, STATIC_ROOT=str(static_root))
    with gunicorn(env, workers=2) as base:
        bundle = swagger_bundle(base)
        get = f"GET {bundle} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n".encode()
        readers = []
        for _ in range(16):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
            sock.connect(("127.0.0.1", port_of(base)))
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):  # the server stops reading once it cannot write
                for _ in range(50):
                    sock.sendall(get)
            readers.append(sock)
        # Every reader's first answer is under way and stuck: what the server has sent is more than the
        # reader's buffer takes, so the rest waits in the server.
        status, body, waited = timed_lead(base)
        for sock in readers:
            sock.close()

    assert waited < 2, f"the real lead took {waited:.1f} s"
    assert status == 201, body


def post_chunked(base: str, parts: list[bytes]) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port_of(base), timeout=10)
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


def test_a_large_chunked_body_still_arriving_is_cut_off_at_a_shorter_deadline_from_the_environment():
    deadline = 2
    # The webhook accepts bodies up to 1 MiB here; the 256 KiB sent at once are not the whole of it.
    env = server_env(
        LEAD_API_KEY_CARDEKHO=KEY, LEAD_MAX_BODY_BYTES=str(1024 * 1024), REQUEST_READ_DEADLINE=str(deadline)
    )
    with gunicorn(env, workers=1) as base:
        sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=3 * deadline + 5)
        started = time.monotonic()
        sock.sendall((START + "Transfer-Encoding: chunked\r\n\r\n").encode())
        # One chunk of 1 MiB, of which the first 256 KiB come at once and the rest a byte a second.
        sock.sendall(b'%x\r\n{"note": "%s' % (1024 * 1024, b"x" * 256 * 1024))
        answer = b""
        try:
            while not answer and time.monotonic() - started < 3 * deadline + 5:
                sock.settimeout(1)
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(4096) or b"closed"
                    break
                sock.sendall(b"x")
        except (ConnectionResetError, BrokenPipeError):
            # A server that hangs up with our bytes still unread in its buffer makes the kernel send a reset
            # instead of a plain close; either way the connection was cut off.
            answer = b"closed"
        closed_after = time.monotonic() - started
        sock.close()

    assert answer == b"closed", answer
    # Seen within a second of the deadline on a quiet machine; the margin is for a busy one. Without the deadline
    # the connection stays open until this test gives up, at 3 * deadline + 5.
    assert deadline - 0.5 < closed_after < deadline + 4, f"closed after {closed_after:.1f} s"
    assert Lead.objects.count() == 0


def read_answer(sock: socket.socket, *, timeout: float = 10) -> bytes:
    """Everything the server sends until it has sent a whole JSON body (or hangs up)."""
    answer = b""
    give_up = time.monotonic() + timeout
    while not answer.endswith(b"}") and time.monotonic() < give_up and (received := sock.recv(4096)):
        answer += received
    return answer


def test_a_client_that_waits_for_100_continue_gets_exactly_one_before_sending_its_body():
    """curl sends ``Expect: 100-continue`` for larger bodies, and waits for the interim answer."""
    payload = json.dumps(dict(CARDEKHO.sample)).encode()
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=1) as base:
        sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=5)
        sock.sendall(f"{START}Expect: 100-continue\r\nContent-Length: {len(payload)}\r\n\r\n".encode())
        interim = sock.recv(4096)
        sock.sendall(payload)
        answer = read_answer(sock)
        sock.close()

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.startswith(b"HTTP/1.1 201 Created\r\n"), answer
    assert b"100 Continue" not in answer
    assert Lead.objects.count() == 1


def read_until_closed(sock: socket.socket, *, timeout: float) -> bytes:
    """Everything the server sends until it hangs up, or ``timeout`` seconds pass."""
    answer = b""
    give_up = time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < give_up:
        with contextlib.suppress(TimeoutError):
            if not (received := sock.recv(65536)):
                break
            answer += received
    return answer


def json_answer(answer: bytes) -> tuple[int, dict] | bytes:
    """The status and JSON body of one whole answer, or the answer as it is when it is not one."""
    head, _, body = answer.partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), json.loads(body)
    except (IndexError, ValueError):
        return answer[:300]


# DATA_UPLOAD_MAX_MEMORY_SIZE (raamcrm/settings.py) at LEAD_MAX_BODY_BYTES's default of 64 KiB.
SERVER_BODY_CAP = 2_621_440
SERVER_TOO_LARGE = {"error": f"Request body is larger than the {SERVER_BODY_CAP}-byte limit"}


def test_a_body_declared_over_the_server_cap_is_refused_before_it_is_sent_and_one_under_it_reaches_the_webhook():
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=1) as base:
        # Just over the webhook's limit, and at the server's: the webhook's own 413, with the body's start ledgered.
        reached = []
        for size in (64 * 1024 + 1, SERVER_BODY_CAP):
            sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=10)
            sock.sendall(f"{START}Content-Length: {size}\r\n\r\n".encode() + b"{" + b" " * (size - 2) + b"}")
            reached.append(json_answer(read_answer(sock)))
            sock.close()
        # One byte over the server's: refused on its head, the body never sent.
        sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=10)
        started = time.monotonic()
        sock.sendall(f"{START}Content-Length: {SERVER_BODY_CAP + 1}\r\n\r\n".encode())
        refused = read_until_closed(sock, timeout=2 * DEADLINE)
        refused_after = time.monotonic() - started
        sock.close()

    assert reached == [(413, {"error": "Request body is larger than the 65536-byte limit"})] * 2
    assert [(d.status_code, d.body_truncated) for d in Delivery.objects.all()] == [(413, True)] * 2
    # Without the server's cap no answer comes: the server waits for the body until the read deadline.
    assert json_answer(refused) == (413, SERVER_TOO_LARGE)
    assert b"\r\nConnection: close\r\n" in refused
    assert refused_after < 2, f"answered and closed after {refused_after:.1f} s"
    assert Delivery.objects.count() == 2  # the webhook never saw it


def test_a_chunked_body_growing_past_the_server_cap_is_refused_before_it_ends():
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(SERVER_BODY_CAP // len(chunk)))
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=KEY), workers=1) as base:
        sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=10)
        started = time.monotonic()
        # The cap's worth of chunks, then one byte more, in a chunk that never ends.
        sock.sendall(f"{START}Transfer-Encoding: chunked\r\n\r\n".encode() + body + b"10\r\nx")
        refused = read_until_closed(sock, timeout=2 * DEADLINE)
        refused_after = time.monotonic() - started
        sock.close()

    # Without the server's cap the server waits for the rest of the body until the read deadline, and no answer comes.
    assert json_answer(refused) == (413, SERVER_TOO_LARGE)
    assert refused_after < 2, f"answered and closed after {refused_after:.1f} s"
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize(
    "headers",
    [pytest.param(f"X-Big: {'a' * 17000}\r\n", id="over 16 KiB"), pytest.param("X-n: a\r\n" * 101, id="101 fields")],
)
def test_a_head_too_large_pipelined_behind_a_request_in_the_same_read_is_a_json_431(headers):
    first = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    second = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}\r\n"
    with gunicorn(server_env(), workers=1) as base:
        sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=10)
        sock.sendall((first + second).encode())  # one segment on loopback: one read
        answers = read_until_closed(sock, timeout=2 * DEADLINE)
        sock.close()

    # Without the check on the pipelined head, the second request is answered like the first, 200.
    first_answer, *others = re.split(rb"(?=HTTP/1\.1 )", answers)[1:]
    assert first_answer.startswith(b"HTTP/1.1 200 OK\r\n"), answers[:300]
    second_answer = b"".join(others)
    assert json_answer(second_answer) == (431, {"error": "Request header fields too large"})
