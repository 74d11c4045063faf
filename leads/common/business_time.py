"""Business time: the dealership's hours (LEAD_BUSINESS_HOURS on LEAD_BUSINESS_DAYS, in the site's time zone).

The first-contact SLA and the reassignment clock count only these minutes: a lead that arrives at 22:00
is not late at 22:15, but at 09:15 the next business morning.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

# How LEAD_BUSINESS_DAYS names the days (leads.checks refuses any other name), Monday first as weekday() counts.
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far back business_minutes_ago looks before giving up (a calendar with no business days at all).
LOOK_BACK = timedelta(days=60)


def _window(day: date) -> tuple[datetime, datetime] | None:
    """The business hours of one local day, as aware datetimes, or None on a closed day."""
    start, end = settings.LEAD_BUSINESS_HOURS
    if DAY_NAMES[day.weekday()] not in settings.LEAD_BUSINESS_DAYS or end <= start:
        return None
    midnight = datetime.combine(day, time())
    return timezone.make_aware(midnight + timedelta(hours=start)), timezone.make_aware(
        midnight + timedelta(hours=min(end, 24))
    )


def is_business_time(moment: datetime) -> bool:
    """Whether ``moment`` falls in the dealership's hours (leads.ops.flow walks back through them)."""
    window = _window(timezone.localdate(moment))
    return window is not None and window[0] <= moment < window[1]


def _seconds_within(day: date, start: datetime, end: datetime) -> float:
    window = _window(day)
    if window is None:
        return 0.0
    return max((min(window[1], end) - max(window[0], start)).total_seconds(), 0.0)


def business_minutes_between(start: datetime, end: datetime) -> int:
    """Whole business minutes from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
    if end <= start:
        return 0
    first, last = timezone.localdate(start), timezone.localdate(end)
    seconds = _seconds_within(first, start, end)
    day = first + timedelta(days=1)
    # Whole weeks strictly inside the span count the same each time: add them without walking them.
    weeks = max((last - day).days // 7 - 1, 0)
    if weeks:
        week = sum(_seconds_within(day + timedelta(days=i), start, end) for i in range(7))
        seconds += weeks * week
        day += timedelta(days=7 * weeks)
    while day <= last:
        seconds += _seconds_within(day, start, end)
        day += timedelta(days=1)
    return int(seconds // 60)


def business_minutes_ago(minutes: int, *, now: datetime) -> datetime:
    """The latest moment with ``minutes`` business minutes between it and ``now``.

    A lead received before this moment has waited more than ``minutes`` business minutes.
    """
    remaining = timedelta(minutes=minutes)
    day = timezone.localdate(now)
    oldest = timezone.localdate(now - LOOK_BACK)
    while day >= oldest:
        window = _window(day)
        if window is not None and window[0] < now:
            open_until = min(window[1], now)
            if remaining <= open_until - window[0]:
                return open_until - remaining
            remaining -= open_until - window[0]
        day -= timedelta(days=1)
    return now - LOOK_BACK


def friendly_age(minutes: int) -> str:
    """ "12 min", "3 h", "6 d" (business days of LEAD_BUSINESS_HOURS), for a column a salesperson scans."""
    if minutes < 60:
        return f"{minutes} min"
    start, end = settings.LEAD_BUSINESS_HOURS
    day_minutes = max(end - start, 1) * 60
    if minutes < 2 * day_minutes:
        return f"{minutes // 60} h"
    return f"{minutes // day_minutes} d"
