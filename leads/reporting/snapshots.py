"""The managers' report's ranges, and a long range's figures from a snapshot a few minutes old.

Each median is exact (``percentile_cont`` over every lead of the range), and a median cannot be added up from
smaller ranges' medians: a year's report sorts a third of a million leads' delays, twice for each of its three
tables, which takes over a second at a million leads (bench/RESULTS.md). A year's figures hardly move in a few
minutes, so a range longer than ``LIVE_DAYS`` is read from a snapshot in the cache, and the page says when it was
worked out. The long ranges the page links to (``preset_ranges``) are worked out again every ``REFRESH_MINUTES``
by a periodic job, so a manager opening one does not wait (but in the first minutes after midnight IST, when
every range moves on a day); any other long range is worked out the first time it is asked for, then kept
``KEPT``. A range up to ``LIVE_DAYS`` (today's work) is always live.

If the cache cannot be reached the report is worked out at each visit; if the worker has stopped, a preset is
worked out when its snapshot has run out, like any other range: slower, never wrong.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.cache import cache

from leads.common.days import days_in
from leads.reporting import queries
from raamcrm.limits import CACHE_ERRORS

logger = logging.getLogger(__name__)

# The report's range when none is chosen, and the first of the page's links.
DEFAULT_DAYS = 30
LIVE_DAYS = 31
REFRESH_MINUTES = 5
# Twice the refresh, so a preset's snapshot is replaced before it runs out even when the job comes round late.
KEPT = timedelta(minutes=2 * REFRESH_MINUTES)


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


def preset(label: str, today: date) -> Preset:
    (found,) = [candidate for candidate in preset_ranges(today) if candidate.label == label]
    return found


def is_live(first: date, last: date) -> bool:
    return days_in(first, last) <= LIVE_DAYS


def _key(first: date, last: date) -> str:
    # Kept under the deploy's commit, so new code never reads what older code worked out (or could not unpickle
    # it); and under the SLA setting, since a different SLA is a different report.
    return (
        f"lead-report:{settings.RELEASE}:{settings.LEAD_FIRST_CONTACT_MINUTES}:{first.isoformat()}:{last.isoformat()}"
    )


def lead_report(*, first: date, last: date) -> queries.LeadReport:
    """The report for the range: live up to ``LIVE_DAYS``, from its snapshot (worked out now if none) beyond."""
    if is_live(first, last):
        return queries.lead_report(first=first, last=last)
    try:
        report = cache.get(_key(first, last))
    except CACHE_ERRORS as exc:
        logger.error("The cache is down, so the report from %s to %s is worked out live: %s", first, last, exc)
        return queries.lead_report(first=first, last=last)
    if isinstance(report, queries.LeadReport):
        return report
    return lead_report_refresh(first=first, last=last)


def lead_report_refresh(*, first: date, last: date) -> queries.LeadReport:
    """Work the range's report out now, and keep it as the range's snapshot."""
    report = queries.lead_report(first=first, last=last)
    kept = dataclasses.replace(report, kept=True)
    try:
        cache.set(_key(first, last), kept, timeout=KEPT.total_seconds())
    except CACHE_ERRORS as exc:
        logger.error("The cache is down, so the report from %s to %s is not kept: %s", first, last, exc)
        return report
    return kept


def preset_reports_refresh(today: date) -> list[queries.LeadReport]:
    """The periodic job's work: a fresh snapshot of each long range the page links to (each once, though on
    some days two links are the same range)."""
    ranges = dict.fromkeys((p.first, p.last) for p in preset_ranges(today) if not is_live(p.first, p.last))
    return [lead_report_refresh(first=first, last=last) for first, last in ranges]
