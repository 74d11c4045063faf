"""gunicorn's gthread worker with a read deadline, so slow clients cannot hold every thread, and
with a clean hand-back of its own listening socket when it stops.

gthread keeps a connection that has sent nothing off the thread pool. But once a client has sent
its first byte, a thread reads its request line, headers and body with blocking reads, and a
client that trickles one byte every few seconds can hold that thread for as long as it likes; a
handful of them hold every thread. This worker gives each request ``REQUEST_READ_DEADLINE``
seconds (default 5) from the moment a thread takes it until the application has read its body;
after that a watchdog shuts the socket, the read fails, and the thread is free again. Processing
time after the body has arrived is not limited here (gunicorn's own ``timeout`` covers a stuck
worker).

gunicorn has no public hook before it reads the request line, nor one for a worker that starts
to stop, so this reaches inside its gthread worker: ``handle(conn)`` and ``conn.sock`` for the
deadline; ``set_accept_enabled``, ``sockets`` and ``accept(listener)`` for the hand-back.
tests/test_gunicorn_pin.py fails on a gunicorn version they were not checked against.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gunicorn import glogging
from gunicorn.workers.gthread import ThreadWorker

READ_DEADLINE = float(os.environ.get("REQUEST_READ_DEADLINE", "5"))

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _BodyReader:
    """wsgi.input that says when the whole body has been read."""

    def __init__(self, stream: Any, length: int, done: Callable[[], None]) -> None:
        self._stream, self._left, self._done = stream, length, done
        if length <= 0:
            done()

    def _account(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left <= 0 or not data:
            self._done()
        return data

    def read(self, size: int = -1) -> bytes:
        return self._account(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._account(self._stream.readline(size))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return [self._account(line) for line in self._stream.readlines(hint)]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class ReadDeadlineThreadWorker(ThreadWorker):
    wsgi: WSGIApplication  # set by gunicorn's load_wsgi

    def init_process(self) -> None:
        # Per handling thread: when its request must have been read, and the socket to shut if not.
        self._reading: dict[int, tuple[float, socket.socket]] = {}
        self._reading_lock = threading.Lock()
        threading.Thread(target=self._watch, name="read-deadline", daemon=True).start()
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        application = self.wsgi

        def deadline_aware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            environ["wsgi.input"] = _BodyReader(environ["wsgi.input"], length, self._finished_reading)
            return application(environ, start_response)

        self.wsgi = deadline_aware

    def handle(self, conn: Any) -> Any:
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
                late = {thread: sock for thread, (deadline, sock) in self._reading.items() if deadline < now}
                for thread in late:
                    del self._reading[thread]
            for sock in late.values():
                self.log.warning("Closing a connection still sending its request after %.0f s", READ_DEADLINE)
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
