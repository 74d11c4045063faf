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
