"""Long downloads (the CSV exports) served by the ASGI server in flat memory.

Django's ASGI handler serves a StreamingHttpResponse built on a plain iterator by reading it whole into a list
first, so a million-lead export would sit in one worker's memory before its first byte left. ``streamed`` hands
the server an async iterator instead, which takes the lines a batch at a time on the request's own thread (where
the export's database cursor lives). It counts the lines it hands the server, which sends each before asking for
the next, and reports that count at the end, or when closed (as the server closes it when the client hangs up)
with the stream unfinished, so an export cut short is on file as such (leads.ops.privacy).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import sync_to_async

# Lines taken per hop to the request's thread: enough to make the hop cheap, few enough to stay small.
BATCH_LINES = 500


class StreamedLines:
    """An async iterator over ``lines`` for StreamingHttpResponse. It has no ``__iter__`` on purpose: Django takes
    an iterable that has one for a sync stream."""

    def __init__(
        self, lines: Iterator[str], *, finished: Callable[[int, bool], None] | None = None, batch: int = BATCH_LINES
    ) -> None:
        self._lines = lines
        self._batch = batch
        self._taken: deque[str] = deque()
        self._take = sync_to_async(self._take_batch, thread_sensitive=True)
        self._finished = finished
        self.sent = 0
        self.complete = False

    def _take_batch(self) -> list[str]:
        return list(itertools.islice(self._lines, self._batch))

    def __aiter__(self) -> StreamedLines:
        return self

    async def __anext__(self) -> str:
        if not self._taken:
            self._taken.extend(await self._take())
            if not self._taken:
                self.complete = True
                await sync_to_async(self._report, thread_sensitive=True)()
                raise StopAsyncIteration
        self.sent += 1
        return self._taken.popleft()

    def close(self) -> None:
        """Called by the response when it is closed, on the request's thread: the lines' own ``finally`` runs, and
        ``finished`` hears how many lines were handed over, unless it heard at the end of them already."""
        close: Any = getattr(self._lines, "close", None)
        if close is not None:
            close()
        self._report()

    def _report(self) -> None:
        """Tell ``finished``, once, how many lines were handed over and whether that was all of them."""
        if self._finished is not None:
            finished, self._finished = self._finished, None
            finished(self.sent, self.complete)


def streamed(lines: Iterator[str], *, finished: Callable[[int, bool], None] | None = None) -> StreamedLines:
    return StreamedLines(lines, finished=finished)
