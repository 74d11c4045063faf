"""The guide's rate limits (§6), on the cache every process shares.

Three limits, all fixed-window counters in the shared cache (Redis in production):
- soft, per partner: above it leads are still accepted, only flagged in the ledger and logged;
- hard, per partner: above it the answer is 429 with Retry-After;
- failed authentication, per client IP, so a stranger guessing keys is slowed down and never
  spends a partner's quota.

The failed-key counter (and the admin's login limits) are django-ratelimit's, through its public
``get_usage``. The partner counter runs on every lead, so it is counted here, in one cache round
trip instead of django-ratelimit's two (see ``_hit``), with django-ratelimit's kind of window.
Every rate is parsed by ``raamcrm.rates``.

A lead matters more than a limit: if the cache cannot be reached, the limiter fails open,
logs an ERROR, and leaves the cache alone for a few seconds so each lead does not wait out a
socket timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from raamcrm.rates import Rate, parse_rate

logger = logging.getLogger("leads.intake.throttling")

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

    return _failing_open(count)


def window_end(value: str, seconds: int, now: int) -> int:
    """When the current window of ``value``'s counter ends (a Unix time, after ``now``).

    Windows are ``seconds`` long and follow one another, as django-ratelimit's do, and like its
    they are offset by a hash of the value, so that not every counter starts afresh at once.
    """
    offset = zlib.crc32(value.encode()) % seconds
    return now + seconds - (now - offset) % seconds


def _hit(*, group: str, value: str, rate: Rate) -> Usage | None:
    """Count one hit on ``value``'s counter in ``group``, in one cache round trip.

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
            hits = cache.incr(key)
        except ValueError:  # the window's first hit: no key yet (or another process is adding it)
            hits = 1 if cache.add(key, 1, timeout=rate.seconds + COUNTER_GRACE_SECONDS) else cache.incr(key)
        return Usage(count=hits, limit=rate.limit, seconds_left=end - now, window_seconds=rate.seconds)

    return _failing_open(count)


def _counter_key(group: str, value: str, window_end: int) -> str:
    return f"ratelimit:{group}:{value}:{window_end}"


def count_attempt(*, group: str, value: str, rate: str) -> Usage | None:
    """Count one attempt on ``value``'s counter before it is judged, so that attempts made at the same
    moment cannot all slip under the limit; ``attempt_succeeded`` gives a successful one back."""
    return _hit(group=group, value=value, rate=parse_rate(rate))


def attempt_succeeded(*, group: str, value: str, rate: str) -> None:
    """Give back an attempt ``count_attempt`` counted: only failed attempts use up the limit."""
    seconds = parse_rate(rate).seconds
    key = _counter_key(group, value, window_end(value, seconds, int(time.time())))
    with contextlib.suppress(Exception):  # a new window, or the cache down: nothing to give back
        cache.decr(key)


def _failing_open(count: Callable[[], Usage | None]) -> Usage | None:
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        return count()
    except Exception as exc:  # any cache failure: Redis down, timeout, DNS
        _cache_down_until = time.monotonic() + OUTAGE_BACKOFF_SECONDS
        logger.error("Rate-limit cache unreachable, limits are off for %ss: %s", OUTAGE_BACKOFF_SECONDS, exc)
        return None


def count_auth_failure(request: HttpRequest, *, client_ip: str | None) -> Usage | None:
    """Count a failed key from this client IP; returns the usage when it is now over the limit.

    Only failures are counted, so a partner whose key works never spends a round trip here, and
    nobody else's failures can slow a partner down.
    """
    failures = usage(
        request,
        group="auth-failures",
        value=client_ip or "unknown",
        rate=settings.LEAD_RATE_LIMIT_AUTH_FAILURES,
        increment=True,
    )
    return failures if failures and failures.exceeded else None


def count_partner_request(*, partner_slug: str, is_test: bool = False) -> tuple[Usage | None, bool]:
    """Count one authenticated request against the partner's limits.

    A partner's test (staging) keys have limits of their own, the same size: a load test on staging
    must never refuse a live buyer.

    Returns the hard-limit usage when the hard ceiling is exceeded (else None), and whether the
    soft limit is exceeded. When both limits share a period (the default: per minute) one counter
    serves both, so a lead costs one Redis round trip.
    """
    hard_rate, soft_rate = parse_rate(settings.LEAD_RATE_LIMIT_HARD), parse_rate(settings.LEAD_RATE_LIMIT_SOFT)
    partner_slug = f"{partner_slug}:test" if is_test else partner_slug
    hard = _hit(group="partner", value=partner_slug, rate=hard_rate)
    if hard and hard.exceeded:
        return hard, True
    if soft_rate.seconds == hard_rate.seconds:
        soft = dataclasses.replace(hard, limit=soft_rate.limit) if hard else None
    else:
        soft = _hit(group="partner-soft", value=partner_slug, rate=soft_rate)
    over_soft = bool(soft and soft.exceeded)
    if soft and over_soft and _first_in_window(f"soft-warned:{partner_slug}", soft.seconds_left):
        logger.warning(
            "%s is over the soft limit of %s; its leads are still accepted and flagged",
            partner_slug,
            settings.LEAD_RATE_LIMIT_SOFT,
            extra={"partner": partner_slug},
        )
    return None, over_soft


def _first_in_window(key: str, seconds_left: int) -> bool:
    try:
        return bool(cache.add(key, 1, timeout=seconds_left))
    except Exception:  # the warning is a courtesy; never let it cost a lead
        return False
