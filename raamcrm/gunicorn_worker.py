"""gunicorn's gthread worker, made safe against clients that trickle their requests, and with a
clean hand-back of its own listening socket when it stops.

gthread hands a connection to a thread as soon as it has something to read, and the thread reads
the request line, headers and body with blocking reads. A client trickling one byte a second holds
that thread; 8 of them hold every thread of a server with 2 workers of 4 threads, and a real lead
waits behind them. So this worker holds each request on its event loop, with non-blocking reads,
until the whole of it has arrived, and only then gives it to a thread; a request that has not
arrived ``REQUEST_READ_DEADLINE`` seconds (default 5) after its connection was accepted (or, on a
kept-alive connection, after its first byte) is cut off. Slow clients therefore cost a socket and
a buffer, never a thread.

A request larger than ``ARRIVAL_LIMIT``, or one this worker cannot size up, goes to a thread as it
comes, and the deadline then runs from when the thread takes it until the application has read its
body (to its end, for a chunked body); after that a watchdog shuts the socket, the read fails, and
the thread is free again. Processing time after the body has arrived is not limited here
(gunicorn's own ``timeout`` covers a stuck worker).

gunicorn has no public hook before it reads the request line, nor one for a worker that starts
to stop, so this reaches inside its gthread worker: ``enqueue_req(conn)``, ``handle(conn)``,
``poller``, ``nr_conns`` and the connection's ``sock``, ``init()``, ``close()`` and
``parser.unreader`` for the arrival and the deadline; ``set_accept_enabled``, ``sockets`` and
``accept(listener)`` for the hand-back; ``handle_error`` writing its page through the client socket's
``sendall``, for JSON errors. tests/test_gunicorn_pin.py fails on a gunicorn version they were not
checked against.

A request gunicorn cannot parse (a header over its size limit, a Content-Length that is not a number)
never reaches Django; gunicorn answers it with an HTML page. Our clients get JSON, ``{"error": ...}``,
like every other 4xx: ``handle_error`` keeps gunicorn's choice of status and sends that instead.
"""

from __future__ import annotations

import contextlib
import enum
import json
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from gunicorn import glogging
from gunicorn.workers.gthread import ThreadWorker

from raamcrm.env import env_int

READ_DEADLINE = env_int("REQUEST_READ_DEADLINE", 5, minimum=1)
# The most of one request held on the event loop while it arrives: a webhook body at its cap
# (LEAD_MAX_BODY_BYTES, 64 KiB by default) with room to spare for headers. A larger request goes to
# a thread as it comes, under the read deadline.
ARRIVAL_LIMIT = 128 * 1024
# The app's own words for a 500 (leads.intake.exceptions.INTERNAL_ERROR; a test keeps them equal): this module
# is loaded by gunicorn before Django is set up, so it cannot import them.
INTERNAL_ERROR = "Internal server error"


def json_error_response(status_line: str, error: str) -> bytes:
    """A whole HTTP response, closing the connection, whose body is ``{"error": error}``."""
    body = json.dumps({"error": error}).encode()
    head = f"HTTP/1.1 {status_line}\r\nConnection: close\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body


HEAD_TOO_LARGE_RESPONSE = json_error_response("431 Request Header Fields Too Large", "Request header fields too large")

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Arrival(enum.Enum):
    PARTIAL = "more is to come"
    WHOLE = "the whole request is here"
    STREAMED = "for a thread as it comes: a body too large to hold, or framing gunicorn refuses at once"
    HEAD_TOO_LARGE = "headers longer than any client of ours sends: refused here"


def request_arrival(data: bytes | bytearray) -> tuple[Arrival, bool]:
    """How much of an HTTP/1.1 request ``data`` holds, and whether its client waits for a
    ``100 Continue`` before sending the body. Only as much is parsed as that takes; gunicorn parses
    the request for real, and answers a malformed one."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if b"\n\n" in data:
            return Arrival.STREAMED, False  # bare LF line ends, which gunicorn refuses
        return (Arrival.HEAD_TOO_LARGE if len(data) >= ARRIVAL_LIMIT else Arrival.PARTIAL), False
    request_line, *fields = bytes(data[:end]).split(b"\r\n")
    lengths: list[bytes] = []
    codings: list[bytes] = []
    expects_continue = False
    for field in fields:
        name, _, value = field.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            codings += [coding.strip() for coding in value.split(b",")]
        elif name == b"expect":
            expects_continue = value == b"100-continue" and request_line.endswith(b"HTTP/1.1")
    body_start = end + 4
    if codings:
        # gunicorn frames a body by chunks when the last transfer coding is chunked, and refuses a
        # request with any other, or with a Content-Length as well.
        chunked = codings[-1] == b"chunked" and not lengths
        arrival = _chunked_arrival(data, body_start) if chunked else Arrival.STREAMED
    elif len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        arrival = Arrival.STREAMED  # refused by gunicorn
    elif lengths:
        arrival = Arrival.WHOLE if len(data) - body_start >= int(lengths[0]) else Arrival.PARTIAL
    else:
        arrival = Arrival.WHOLE
    if arrival is Arrival.PARTIAL and len(data) >= ARRIVAL_LIMIT:
        arrival = Arrival.STREAMED
    return arrival, expects_continue and arrival is Arrival.PARTIAL


def _chunked_arrival(data: bytes | bytearray, position: int) -> Arrival:
    """Whether a chunked body starting at ``position`` has reached its last chunk and trailers."""
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return Arrival.PARTIAL
        digits = data[position:line_end].split(b";", 1)[0].strip()
        if not digits or digits.strip(b"0123456789abcdefABCDEF"):
            return Arrival.STREAMED  # refused by gunicorn
        size = int(digits, 16)
        if size == 0:
            # The last chunk; trailer fields may follow, and an empty line ends them.
            return Arrival.WHOLE if data.find(b"\r\n\r\n", line_end) >= 0 else Arrival.PARTIAL
        position = line_end + 2 + size + 2  # the chunk and the CRLF after it
        if position > len(data):
            return Arrival.PARTIAL


class _BodyReader:
    """wsgi.input that says when the whole body has been read: ``length`` bytes of it, or, for a
    chunked body (``length`` None), up to the end of the stream."""

    def __init__(self, stream: Any, length: int | None, done: Callable[[], None]) -> None:
        self._stream, self._left, self._done = stream, length, done
        if length is not None and length <= 0:
            done()

    def _account(self, data: bytes, size: int | None) -> bytes:
        if not data and size != 0:
            self._done()  # the end of the stream
        elif self._left is not None:
            self._left -= len(data)
            if self._left <= 0:
                self._done()
        return data

    def read(self, size: int = -1) -> bytes:
        return self._account(self._stream.read(size), size)

    def readline(self, size: int = -1) -> bytes:
        return self._account(self._stream.readline(size), size)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = self._stream.readlines(hint)
        for line in lines:
            self._account(line, None)
        if self._left is None:
            self._done()  # readlines reads to the end
        return list(lines)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class _Arriving:
    """A request still arriving on the event loop."""

    __slots__ = ("continued", "data")

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.continued = False


class ReadDeadlineThreadWorker(ThreadWorker):
    wsgi: WSGIApplication  # set by gunicorn's load_wsgi

    def init_process(self) -> None:
        # Per connection still arriving, or per thread still reading its request: when it must have
        # arrived, and the socket to shut if not.
        self._reading: dict[object, tuple[float, socket.socket]] = {}
        self._reading_lock = threading.Lock()
        self._arriving: dict[Any, _Arriving] = {}  # the event loop's own
        self._arrived: dict[Any, tuple[bytes, Arrival]] = {}  # from the event loop to a thread
        # Held requests are read off the raw socket: not under TLS, nor where HTTP/2 may start with
        # its preface; neither is used on Render, which terminates TLS.
        self._hold_arrivals = not self.cfg.is_ssl and self.cfg.http2_cleartext in ("off", "upgrade")
        threading.Thread(target=self._watch, name="read-deadline", daemon=True).start()
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        application = self.wsgi

        def deadline_aware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            length: int | None
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                length = None
            else:
                try:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                except ValueError:
                    length = 0
            environ["wsgi.input"] = _BodyReader(environ["wsgi.input"], length, self._finished_reading)
            return application(environ, start_response)

        self.wsgi = deadline_aware

    def enqueue_req(self, conn: Any) -> None:
        """Every request passes here on its way to a thread: on a new connection, on a kept-alive
        one, or pipelined behind the last. Hold it on the event loop until it has all arrived."""
        if not self._hold_arrivals:
            super().enqueue_req(conn)
            return
        pipelined = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        self._arriving[conn] = _Arriving(pipelined)
        with self._reading_lock:
            self._reading[conn] = (time.monotonic() + READ_DEADLINE, conn.sock)
        conn.sock.setblocking(False)
        self._receive(conn, registered=False)

    def _receive(self, conn: Any, *, registered: bool) -> None:
        arriving = self._arriving[conn]
        try:
            received = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            received = None
        except OSError:
            received = b""
        if received:
            arriving.data += received
        arrival, expects_continue = request_arrival(arriving.data)
        if arrival is Arrival.PARTIAL and received != b"":
            if expects_continue and not arriving.continued:
                # The client waits for this before it sends its body (RFC 9110 §10.1.1). gunicorn
                # sends another when it takes the request; clients skip any 1xx (§15.2).
                arriving.continued = True
                with contextlib.suppress(OSError):
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            if not registered:
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))
            return
        # Whole, for a thread as it comes, refused, or the client hung up (or the deadline shut it).
        if registered:
            self.poller.unregister(conn.sock)
        del self._arriving[conn]
        with self._reading_lock:
            self._reading.pop(conn, None)
        if arrival in (Arrival.PARTIAL, Arrival.HEAD_TOO_LARGE):
            if arrival is Arrival.HEAD_TOO_LARGE:
                with contextlib.suppress(OSError):
                    conn.sock.send(HEAD_TOO_LARGE_RESPONSE)
            self.nr_conns -= 1
            conn.close()
            return
        self._arrived[conn] = (bytes(arriving.data), arrival)
        super().enqueue_req(conn)

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        # gunicorn logs the error and picks the status; the page it writes is captured and sent as JSON.
        page = _CapturedPage(client)
        super().handle_error(req, page, addr, exc)
        status_line = page.written.partition(b"\r\n")[0].decode("latin-1").partition(" ")[2]
        if not status_line:
            return  # gunicorn wrote nothing: nothing to answer
        status, _, reason = status_line.partition(" ")
        error = INTERNAL_ERROR if status == "500" else f"{reason}: {exc}"
        with contextlib.suppress(OSError):
            client.sendall(json_error_response(status_line, error[:500]))

    def _on_readable(self, conn: Any, _sock: socket.socket) -> None:
        self._receive(conn, registered=True)

    def handle(self, conn: Any) -> Any:
        data, arrival = self._arrived.pop(conn, (b"", None))
        if arrival is not None:
            conn.init()
            conn.parser.unreader.unread(data)
            if arrival is Arrival.WHOLE:
                return super().handle(conn)  # nothing left to wait for
        with self._reading_lock:
            self._reading[threading.get_ident()] = (time.monotonic() + READ_DEADLINE, conn.sock)
        try:
            return super().handle(conn)
        finally:
            self._finished_reading()

    def _finished_reading(self) -> None:
        with self._reading_lock:
            self._reading.pop(threading.get_ident(), None)

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._reading_lock:
                late = {reader: sock for reader, (deadline, sock) in self._reading.items() if deadline < now}
                for reader in late:
                    del self._reading[reader]
            for sock in late.values():
                self.log.warning("Closing a connection still sending its request after %.0f s", READ_DEADLINE)
                # A thread's blocking read fails; a connection on the event loop reads an end.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if not enabled and not self.alive and self.cfg.reuse_port:
            self._hand_back_listeners()

    def _hand_back_listeners(self) -> None:
        """Stopping (a deploy, or the master replacing us): accept what is queued, then close our socket.

        With ``reuse_port`` each worker listens on a socket of its own and the kernel spreads new
        connections across them. A stopping worker no longer accepts, but until it closes its
        socket the kernel keeps queuing connections there, and when the process exits they are
        reset: a partner's webhook would fail. Closed at once, the kernel sends new connections to
        the other workers; those already queued are taken first and served before the worker exits.
        """
        for listener in self.sockets:
            with contextlib.suppress(OSError):
                listener.setblocking(False)
                # A listening socket is readable while a connection waits in its queue.
                while select.select([listener], [], [], 0)[0]:
                    self.accept(listener)
            listener.close()


class NoAccessLogLogger(glogging.Logger):
    """gunicorn's logger without its access log: our middleware and the webhook views already write
    one JSON line per request (raamcrm.logs), and gunicorn would format and write a second one for
    every request whenever a logging config is given, as gunicorn.conf.py does for its error log."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        return None


class _CapturedPage:
    """A client socket as gunicorn's ``handle_error`` sees it: what it writes is kept, not sent."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.written = b""

    def sendall(self, data: bytes) -> None:
        self.written += data

    def send(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
