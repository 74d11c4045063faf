"""Fixed-window counters on the cache every process shares (Redis in production), failing open.

Counters are django-ratelimit's, through its public ``get_usage``, or (``hit``) counted here in one cache
round trip instead of its two, with its kind of window. Every rate is parsed by ``raamcrm.rates``.

A request matters more than a limit: if the cache cannot be reached, a counter fails open, logs an ERROR,
and leaves the cache alone for a few seconds so each request does not wait out a socket timeout. Only the
cache client's own errors count as the cache being down (``CACHE_ERRORS``): a bug of ours still raises.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from raamcrm.rates import Rate, parse_rate

logger = logging.getLogger("raamcrm.limits")

# What django-redis raises when Redis is down or slow (it re-raises redis-py's own errors), and the
# socket's errors below it (a timeout, a refused connection, a name that does not resolve).
CACHE_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, socket.timeout, OSError)
OUTAGE_BACKOFF_SECONDS = 5.0
# A counter outlives its window a little, so a hit in the window's last second still finds it.
COUNTER_GRACE_SECONDS = 5
_cache_down_until = 0.0


@dataclass(frozen=True)
class Usage:
    count: int
    limit: int
    seconds_left: int
    window_seconds: int

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def seconds_into_window(self) -> int:
        return max(0, self.window_seconds - self.seconds_left)


def usage(request: HttpRequest, *, group: str, value: str, rate: str, increment: bool) -> Usage | None:
    """django-ratelimit's counter for ``value`` in ``group``; None when limits are off or the cache is down."""
    parsed = parse_rate(rate)

    def count() -> Usage | None:
        usage = get_usage(
            request,
            group=group,
            key=lambda _group, _request: value,
            rate=lambda _group, _request: (parsed.limit, parsed.seconds),  # parsed once, by raamcrm.rates
            increment=increment,
        )
        if usage is None:  # ratelimiting disabled, or (with RATELIMIT_FAIL_OPEN) the counter could not be read
            return None
        return Usage(
            count=usage["count"],
            limit=usage["limit"],
            seconds_left=max(1, usage["time_left"]),
            window_seconds=parsed.seconds,
        )

    return failing_open(count)


def window_end(value: str, seconds: int, now: int) -> int:
    """When the current window of ``value``'s counter ends (a Unix time, after ``now``).

    Windows are ``seconds`` long and follow one another, as django-ratelimit's do, and like its
    they are offset by a hash of the value, so that not every counter starts afresh at once.
    """
    offset = zlib.crc32(value.encode()) % seconds
    return now + seconds - (now - offset) % seconds


def hit(*, group: str, value: str, rate: Rate, amount: int = 1) -> Usage | None:
    """Count one hit (or ``amount``) on ``value``'s counter in ``group``, in one cache round trip.

    django-ratelimit adds the window's key and then increments it, which costs two round trips on
    every request, although the add only succeeds on the window's first. Incrementing first costs
    one; the add is left for the first hit of each window.
    """

    def count() -> Usage | None:
        if not getattr(settings, "RATELIMIT_ENABLE", True):  # django-ratelimit's switch turns this one off too
            return None
        now = int(time.time())
        end = window_end(value, rate.seconds, now)
        key = _counter_key(group, value, end)
        try:
            hits = cache.incr(key, amount)
        except ValueError:  # the window's first hit: no key yet (or another process is adding it)
            added = cache.add(key, amount, timeout=rate.seconds + COUNTER_GRACE_SECONDS)
            hits = amount if added else cache.incr(key, amount)
        return Usage(count=hits, limit=rate.limit, seconds_left=end - now, window_seconds=rate.seconds)

    return failing_open(count)


def _counter_key(group: str, value: str, window_end: int) -> str:
    return f"ratelimit:{group}:{value}:{window_end}"


def count_attempt(*, group: str, value: str, rate: str) -> Usage | None:
    """Count one attempt on ``value``'s counter before it is judged, so that attempts made at the same
    moment cannot all slip under the limit; ``attempt_succeeded`` gives a successful one back."""
    return hit(group=group, value=value, rate=parse_rate(rate))


def attempt_succeeded(*, group: str, value: str, rate: str) -> None:
    """Give back an attempt ``count_attempt`` counted: only failed attempts use up the limit."""
    seconds = parse_rate(rate).seconds
    key = _counter_key(group, value, window_end(value, seconds, int(time.time())))
    with contextlib.suppress(ValueError, *CACHE_ERRORS):  # a new window, or the cache down: nothing to give back
        cache.decr(key)


def failing_open(count: Callable[[], Usage | None]) -> Usage | None:
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        return count()
    except CACHE_ERRORS as exc:  # the cache client's own: Redis down, a timeout, DNS; our own bugs still raise
        _cache_down_until = time.monotonic() + OUTAGE_BACKOFF_SECONDS
        logger.error("Rate-limit cache unreachable, limits are off for %ss: %s", OUTAGE_BACKOFF_SECONDS, exc)
        return None
