"""The guide's rate limits (§6), on the cache every process shares.

Three limits, all fixed-window counters in the shared cache (Redis in production):
- soft, per partner: above it leads are still accepted, only flagged in the ledger and logged;
- hard, per partner: above it the answer is 429 with Retry-After;
- failed authentication, per client IP, so a stranger guessing keys is slowed down and never
  spends a partner's quota.

The counters are raamcrm.limits': the failed-key one django-ratelimit's, the partner one (on every lead)
counted in one cache round trip. A lead matters more than a limit: a cache that cannot be reached lets
every lead through (raamcrm.limits fails open and logs it).
"""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from raamcrm.client_ip import address_key
from raamcrm.limits import CACHE_ERRORS, Usage, hit, usage
from raamcrm.rates import parse_rate

logger = logging.getLogger("leads.intake.throttling")


def count_auth_failure(request: HttpRequest, *, client_ip: str | None) -> Usage | None:
    """Count a failed key from this client IP; returns the usage when it is now over the limit.

    Only failures are counted, so a partner whose key works never spends a round trip here, and
    nobody else's failures can slow a partner down.
    """
    failures = usage(
        request,
        group="auth-failures",
        value=address_key(client_ip),
        rate=settings.LEAD_RATE_LIMIT_AUTH_FAILURES,
        increment=True,
    )
    return failures if failures and failures.exceeded else None


def count_partner_request(*, partner_slug: str, is_test: bool = False, leads: int = 1) -> tuple[Usage | None, bool]:
    """Count one authenticated request (or ``leads`` more leads of a batch) against the partner's limits.

    A partner's test (staging) keys have limits of their own, the same size: a load test on staging
    must never refuse a live buyer.

    Returns the hard-limit usage when the hard ceiling is exceeded (else None), and whether the
    soft limit is exceeded. When both limits share a period (the default: per minute) one counter
    serves both, so a lead costs one Redis round trip.
    """
    hard_rate, soft_rate = parse_rate(settings.LEAD_RATE_LIMIT_HARD), parse_rate(settings.LEAD_RATE_LIMIT_SOFT)
    partner_slug = f"{partner_slug}:test" if is_test else partner_slug
    hard = hit(group="partner", value=partner_slug, rate=hard_rate, amount=leads)
    if hard and hard.exceeded:
        return hard, True
    if soft_rate.seconds == hard_rate.seconds:
        soft = dataclasses.replace(hard, limit=soft_rate.limit) if hard else None
    else:
        soft = hit(group="partner-soft", value=partner_slug, rate=soft_rate, amount=leads)
    over_soft = bool(soft and soft.exceeded)
    if soft and over_soft and _first_in_window(f"soft-warned:{partner_slug}", soft.seconds_left):
        logger.warning(
            "%s is over the soft limit of %s; its leads are still accepted and flagged",
            partner_slug,
            settings.LEAD_RATE_LIMIT_SOFT,
            extra={"partner": partner_slug},
        )
    return None, over_soft


def count_refused_body(*, partner_slug: str, key_prefix: str) -> Usage | None:
    """Count a lead refused at the hard limit against its key's LEAD_REFUSED_BODIES_KEPT; returns the usage when
    it is over, and its body is then not kept: the request is counted on one ledger row of the window instead,
    as a failed-key flood is (leads.intake.ledger.delivery_record's ``flood``). A cache that cannot be reached
    keeps every body, as it lets every lead through."""
    kept = hit(
        group="refused-bodies", value=f"{partner_slug}:{key_prefix}", rate=parse_rate(settings.LEAD_REFUSED_BODIES_KEPT)
    )
    return kept if kept and kept.exceeded else None


def _first_in_window(key: str, seconds_left: int) -> bool:
    try:
        return bool(cache.add(key, 1, timeout=seconds_left))
    except CACHE_ERRORS:  # the warning is a courtesy; never let it cost a lead
        return False
