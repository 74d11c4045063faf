"""Reading a streamed download (the CSV exports) as the ASGI server does: asynchronously, line by line."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import StreamingHttpResponse


def lines_of(response: StreamingHttpResponse) -> list[bytes]:
    """The whole download, read from a test client's response as the ASGI server reads it."""

    async def read() -> list[bytes]:
        return [part async for part in response.streaming_content]

    assert response.is_async, "a download must hand the ASGI server an async iterator, or it is read whole first"
    return async_to_sync(read)()


def body_of(response: StreamingHttpResponse) -> bytes:
    return b"".join(lines_of(response))


def asgi_download(path: str, *, cookies: dict[str, str], hang_up_after: int | None = None) -> tuple[int, list[bytes]]:
    """GET ``path`` through Django's own ASGI handler, as the server hands it a request: its status and the body's
    parts, each as the handler sent it. With ``hang_up_after``, the client disconnects once it has that many."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def run() -> tuple[int, list[bytes]]:
        status, parts, hung_up, asked = 0, [], asyncio.Event(), False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await hung_up.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message.get("body"):
                parts.append(message["body"])
                if hang_up_after is not None and len(parts) >= hang_up_after:
                    hung_up.set()
                    await asyncio.sleep(0.05)  # the handler notices the hang-up while this send is pending

        await ASGIHandler()(scope, receive, send)
        return status, parts

    # As Django's test clients do: the handler's request signals would close the test's database connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return async_to_sync(run)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
