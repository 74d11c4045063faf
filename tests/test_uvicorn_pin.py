"""raamcrm/http_server.py subclasses uvicorn's h11 protocol, where uvicorn has no public hook.

Its overrides were read against uvicorn 0.54 and h11 0.16. On any other version these tests fail on purpose:
read that version's uvicorn/protocols/http/h11_impl.py for what the subclass overrides and reads, run
tests/reliability/test_slow_clients.py and test_hostile_input.py, then widen CHECKED_AGAINST.
"""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version
from unittest import mock

import h11
import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from raamcrm.http_server import DeadlineH11Protocol, Worker

CHECKED_AGAINST = {"uvicorn": (0, 54), "h11": (0, 16), "uvicorn-worker": (0, 4)}  # major, minor


@pytest.mark.parametrize("package", sorted(CHECKED_AGAINST))
def test_the_server_packages_are_the_versions_the_protocol_was_checked_against(package):
    installed = tuple(int(part) for part in version(package).split(".")[:2])
    assert installed == CHECKED_AGAINST[package], (
        f"{package} {version(package)} is installed; raamcrm/http_server.py was checked against "
        f"{'.'.join(map(str, CHECKED_AGAINST[package]))}.x (see this file's docstring)"
    )


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("connection_made", ["self", "transport"]),
        ("connection_lost", ["self", "exc"]),
        ("data_received", ["self", "data"]),
        ("handle_events", ["self"]),
        ("on_response_complete", ["self"]),
        ("send_400_response", ["self", "msg"]),
    ],
)
def test_the_h11_protocol_methods_the_subclass_overrides_keep_their_signatures(method, parameters):
    assert list(inspect.signature(getattr(H11Protocol, method)).parameters) == parameters


def test_the_protocol_has_the_attributes_the_subclass_reads():
    loop = asyncio.new_event_loop()
    try:
        protocol = DeadlineH11Protocol(Config(app=lambda *args: None), ServerState(), {}, _loop=loop)
        assert isinstance(protocol.conn, h11.Connection)
        assert protocol.conn.their_state is h11.IDLE
        assert protocol.conn.trailing_data == (b"", False)
        assert protocol.loop is loop
        assert protocol.logger.name == "uvicorn.error"
        assert hasattr(protocol, "transport")
    finally:
        loop.close()


async def app_that_never_runs(scope: object, receive: object, send: object) -> None:
    raise AssertionError("the request's task is cancelled before it starts")


def test_a_request_read_leaves_its_headers_and_queued_body_where_the_subclass_reads_them():
    loop = asyncio.new_event_loop()
    transport = mock.Mock(spec=asyncio.Transport)
    transport.get_extra_info.return_value = None
    transport.is_closing.return_value = False
    try:
        protocol = H11Protocol(Config(app=app_that_never_runs), ServerState(), {}, _loop=loop)
        protocol.connection_made(transport)
        protocol.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
        assert (b"content-length", b"5") in protocol.headers
        assert protocol.cycle.body == b"ab"
        assert protocol.cycle.disconnected is False
        assert isinstance(protocol.cycle.message_event, asyncio.Event)
    finally:
        for task in protocol.tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*protocol.tasks, return_exceptions=True))
        loop.close()


def test_the_worker_hands_uvicorn_the_protocol_and_the_head_cap():
    assert Worker.CONFIG_KWARGS["http"] is DeadlineH11Protocol
    config = Config(app=lambda *args: None, **Worker.CONFIG_KWARGS)
    config.load()
    assert config.http_protocol_class is DeadlineH11Protocol
