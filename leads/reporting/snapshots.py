"""The managers' report over a long range, from a snapshot a few minutes old; up to a month, worked out live.

Each median is exact (``percentile_cont`` over every lead of the range), and a median cannot be added up from
smaller ranges' medians: a year's report sorts a third of a million leads' delays, twice for each of its three
tables, which takes over a second at a million leads (bench/RESULTS.md). A year's figures hardly move in five
minutes, so a range longer than ``LIVE_DAYS`` is read from a snapshot in the cache, and the page says when it was
worked out. The ranges the report page offers (``preset_ranges``) are worked out again every
``REFRESH_MINUTES`` by a periodic job, so a manager opening one never waits; any other long range is worked out
the first time it is asked for and kept ``KEPT_MINUTES``. A range up to a month (today's work) is always live.

If the cache cannot be reached, or the worker has stopped and a snapshot has run out, the report is worked out
there and then: slower, never wrong.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import date, timedelta
from zlib import crc32

from django.conf import settings
from django.core.cache import cache

from leads.reporting import queries
from raamcrm.limits import CACHE_ERRORS

logger = logging.getLogger(__name__)

# The report's range when none is chosen.
DEFAULT_DAYS = 30
LIVE_DAYS = 31
REFRESH_MINUTES = 5
# Twice the refresh, so a preset's snapshot is replaced before it runs out even when the job comes round late.
KEPT_MINUTES = 2 * REFRESH_MINUTES


@dataclass(frozen=True)
class Preset:
    label: str
    first: date
    last: date


def preset_ranges(today: date) -> list[Preset]:
    """The ranges the report page links to, in IST days: each ends today, but for last month."""
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    # India's financial year runs from 1 April.
    april = date(today.year if today.month >= 4 else today.year - 1, 4, 1)
    return [
        Preset(f"Last {DEFAULT_DAYS} days", today - timedelta(days=DEFAULT_DAYS - 1), today),
        Preset("This month", month, today),
        Preset("Last month", last_month_end.replace(day=1), last_month_end),
        Preset("This financial year", april, today),
        Preset("Last 365 days", today - timedelta(days=364), today),
    ]


def is_live(first: date, last: date) -> bool:
    return (last - first).days + 1 <= LIVE_DAYS


# The snapshot's shape is part of its key: after a deploy that changes the figures, old snapshots are not read.
_SHAPE = crc32(repr([field.name for field in fields(queries.LeadFigures)]).encode())


def _key(first: date, last: date) -> str:
    # The SLA is a setting: a change of it is a different report.
    return f"lead-report:{_SHAPE}:{settings.LEAD_FIRST_CONTACT_MINUTES}:{first.isoformat()}:{last.isoformat()}"


def lead_report(*, first: date, last: date) -> queries.LeadReport:
    """The report for the range: live up to ``LIVE_DAYS``, from its snapshot (worked out now if none) beyond."""
    if is_live(first, last):
        return queries.lead_report(first=first, last=last)
    try:
        report = cache.get(_key(first, last))
    except CACHE_ERRORS:
        logger.exception("The cache is down: the report from %s to %s is worked out live", first, last)
        return queries.lead_report(first=first, last=last)
    if isinstance(report, queries.LeadReport):
        return report
    return lead_report_refresh(first=first, last=last)


def lead_report_refresh(*, first: date, last: date) -> queries.LeadReport:
    """Work the range's report out now, and keep it as the range's snapshot."""
    report = queries.lead_report(first=first, last=last)
    try:
        cache.set(_key(first, last), report, timeout=KEPT_MINUTES * 60)
    except CACHE_ERRORS:
        logger.exception("The cache is down: the report from %s to %s is not kept", first, last)
    return report


def preset_reports_refresh(today: date) -> list[queries.LeadReport]:
    """The periodic job's work: a fresh snapshot of each long range the page links to."""
    return [
        lead_report_refresh(first=preset.first, last=preset.last)
        for preset in preset_ranges(today)
        if not is_live(preset.first, preset.last)
    ]
