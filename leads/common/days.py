"""Days as the dealership counts them: from midnight in the site's time zone (Asia/Kolkata)."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

# The range a day given on a screen may take. Wider dates cannot be turned into an IST day's start and
# end in UTC (Python's datetime ends at year 9999), and no lead is that old or that new.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in the site's time zone, as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def days_in(first: date, last: date) -> int:
    """How many days the range from ``first`` to ``last`` covers, both included."""
    return (last - first).days + 1


# The one way a screen or an email writes a moment: the day, the time, and the zone it is in.
DATETIME_FORMAT = "%d %b %Y, %H:%M"


def ist_datetime(moment: datetime | None) -> str:
    """``moment`` as the sales team reads it everywhere: "07 Dec 2026, 14:05 IST" ("-" for none)."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment)
    return f"{local.strftime(DATETIME_FORMAT)} {local.tzname() if local.tzname() != '+0530' else 'IST'}"
