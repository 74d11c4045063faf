"""A small, bounded load generator for the reliability tests: threads posting unique leads."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from leads.partners import CARDEKHO
from tests.servers import post_json


@dataclass
class Outcome:
    sent_at: float
    status: int
    body: dict
    headers: dict


@dataclass
class Load:
    base: str
    key: str
    clients: int = 4
    max_seconds: float = 60
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                n = next(self._numbers)
            sent = time.monotonic()
            try:
                status, body, headers = post_json(
                    f"{self.base}{CARDEKHO.path}",
                    {"name": f"Buyer {n}", "phone_number": f"7{n:09d}"},
                    key=self.key,
                    timeout=15,
                )
            except OSError as exc:  # the server itself unreachable: record it, it must never happen
                status, body, headers = 0, {"error": repr(exc)}, {}
            with self._lock:
                self.outcomes.append(Outcome(sent, status, body, headers))
            time.sleep(0.01)

    def answered(self, status: int, *, sent_after: float = 0) -> int:
        """How many requests sent after ``sent_after`` (a monotonic time) have been answered ``status`` so far."""
        with self._lock:
            return sum(1 for o in self.outcomes if o.status == status and o.sent_at > sent_after)

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
