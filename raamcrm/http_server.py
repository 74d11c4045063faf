"""The web server's worker: uvicorn's h11 protocol under gunicorn (gunicorn.conf.py), with four protections
uvicorn has no setting for.

uvicorn reads a request on its event loop and Django's ASGI handler reads the whole body before a view
runs, so a client trickling its request costs a socket, never a thread; a response is written by the
event loop too, so a client that never reads costs a buffer. What uvicorn lacks:

- A deadline for a request to arrive. Its keep-alive timeout only runs between requests: a connection
  that sends nothing, or trickles its headers or body a byte a second, stays open for ever. Here a request
  that has not all arrived ``REQUEST_READ_DEADLINE`` seconds (5) after its connection was accepted (or, on a
  kept-alive connection, after its first byte) is cut off. Processing time after it has arrived is not limited.
- A firm cap on the header block. h11's ``max_incomplete_event_size`` only applies while a head is still
  incomplete, so a large head that arrives in one read passes; here a head over ``MAX_HEAD_BYTES`` or with
  more than ``MAX_HEADER_FIELDS`` fields is refused with a 431, a request pipelined behind another too.
- A cap on the body. Django's ASGI handler reads the whole body before any view runs (in memory up to
  ``FILE_UPLOAD_MAX_MEMORY_SIZE``, then in a temporary file with no limit), so a view's own limit judges a
  body only once all of it has arrived. Here a body over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (the one
  home of the number, raamcrm/settings.py; above the webhooks' ``LEAD_MAX_BODY_BYTES``, so a body just over
  theirs still gets their 413 with its start in the ledger) is refused with a 413: on its Content-Length,
  without waiting for the body, or once a chunked body grows past it. The app never sees such a request.
- JSON errors. A request h11 cannot parse (bad chunked framing, a Content-Length that is no number, a
  transfer coding other than chunked) never reaches Django, and uvicorn answers it with a plain-text 400;
  our clients get ``{"error": ...}`` like every other 4xx.

uvicorn has no public hook for any of these, so this subclasses its h11 protocol (passed to it as
``http``, through uvicorn-worker's documented ``CONFIG_KWARGS``) and overrides ``connection_made``,
``data_received``, ``handle_events``, ``on_response_complete``, ``shutdown`` and ``send_400_response``, reading
its ``conn`` (h11's public ``their_state`` and ``trailing_data``), ``transport``, ``loop``, ``logger``, ``headers``
(the request's, lowercased) and ``cycle`` (the request's ``body`` queued for the app, and its ``disconnected`` and
``message_event``, which it sets as uvicorn's ``connection_lost`` does).
tests/test_uvicorn_pin.py fails on a uvicorn or h11 version this was not checked against.
"""

from __future__ import annotations

import asyncio
import json
import re
from http import HTTPStatus
from typing import Any

import h11
from django.conf import settings
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn_worker import UvicornWorker

from raamcrm.env import env_int

READ_DEADLINE = env_int("REQUEST_READ_DEADLINE", 5, minimum=1)
# A partner's head is well under 2 KiB; an admin's browser adds its two cookies. gunicorn's old limits were
# 8 KiB per line and 100 fields.
MAX_HEAD_BYTES = 16 * 1024
MAX_HEADER_FIELDS = 100
# h11 ends a head at an empty line, CRLF or bare LF.
_END_OF_HEAD = re.compile(rb"\n\r?\n")


def json_error_response(status: HTTPStatus, error: str) -> bytes:
    """A whole HTTP response, closing the connection, whose body is ``{"error": error}``."""
    body = json.dumps({"error": error}).encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class DeadlineH11Protocol(H11Protocol):
    _deadline: asyncio.TimerHandle | None = None
    _answered = False  # this connection has had a response
    _last_request = False  # the worker is stopping: this connection's first request is its last
    _body_bytes = 0  # of the request being read, handed to the app so far

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self._start_deadline()  # a connection that sends nothing is cut off too

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._last_request and self.cycle is not None:
            self.cycle.keep_alive = False
        self._track_arrival()

    def handle_events(self) -> None:
        """uvicorn's parsing of what h11 holds: after each read (``data_received``), and when a response is
        complete (``on_response_complete``) for a request pipelined behind it, whose head may have arrived in
        the same read as the one answered. The app's task for a new request is created here but runs only
        once this returns, so a request refused here never reaches the app."""
        if self.conn.their_state is h11.IDLE and self._head_too_large(self.conn.trailing_data[0]):
            self.logger.warning("Refusing a request whose header block is too large")
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Request header fields too large")
            return
        cycle = self.cycle
        queued = len(cycle.body) if cycle else 0
        super().handle_events()
        if self.cycle is not cycle:  # h11 parsed a new request's head: count its body from nothing
            self._body_bytes, queued = 0, 0
        if self.cycle is None or self.transport.is_closing():
            return
        self._body_bytes += len(self.cycle.body) - queued
        max_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = int(dict(self.headers).get(b"content-length", 0))  # h11 has checked it is one number
        if declared > max_bytes or self._body_bytes > max_bytes:
            self.logger.warning("Refusing a request whose body is larger than %d bytes", max_bytes)
            # The app has not taken what this read queued for it, and must not: tell it the client is gone
            # now, as uvicorn's connection_lost will once the connection is closed.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"Request body is larger than the {max_bytes}-byte limit")

    def on_response_complete(self) -> None:
        self._answered = True
        super().on_response_complete()  # takes up a pipelined request, if one is buffered (handle_events)
        self._track_arrival()

    def shutdown(self) -> None:
        """A stopping worker closes the connections that are between requests. One it accepted just as it began
        to stop has sent nothing yet: closed, its client's request would be reset (a partner's lead lost to a
        restart). It gets that one request answered instead, then closes; the read deadline still bounds it."""
        if not self._answered and self.conn.their_state is h11.IDLE:  # no request has arrived on it yet
            self._last_request = True
            return
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        # h11 could not parse the request; uvicorn's own answer is plain text.
        self._refuse(HTTPStatus.BAD_REQUEST, msg)

    @staticmethod
    def _head_too_large(buffered: bytes) -> bool:
        end = _END_OF_HEAD.search(buffered)
        head = buffered[: end.start()] if end else buffered
        return len(head) > MAX_HEAD_BYTES or head.count(b"\n") > MAX_HEADER_FIELDS  # the request line's own LF

    def _refuse(self, status: HTTPStatus, error: str) -> None:
        self._cancel_deadline()
        self.transport.write(json_error_response(status, error))
        self.transport.close()

    def _start_deadline(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(READ_DEADLINE, self._cut_off)

    def _track_arrival(self) -> None:
        """Start the deadline when a request starts to arrive (on a kept-alive connection, with its first
        byte), end it once all of it has: the deadline runs while there is a request still arriving."""
        state = self.conn.their_state
        if state is h11.SEND_BODY or (state is h11.IDLE and self.conn.trailing_data[0]):
            self._start_deadline()
        else:
            self._cancel_deadline()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _cut_off(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.warning("Closing a connection still sending its request after %d s", READ_DEADLINE)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)


class Worker(UvicornWorker):  # type: ignore[misc]  # uvicorn-worker ships no type information
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "asyncio",
        "http": DeadlineH11Protocol,
        # The head cap above is the firm one; h11's own (for a head still arriving) is kept at the same size.
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        # Django has no lifespan events.
        "lifespan": "off",
        # The app reads X-Forwarded-For and X-Forwarded-Proto itself (raamcrm.client_ip, SECURE_PROXY_SSL_HEADER).
        "proxy_headers": False,
        # Our middleware and the webhooks write one JSON line per request.
        "access_log": False,
    }
