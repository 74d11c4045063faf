"""The first-contact SLA counts business minutes only, and ``Lead.objects.overdue`` is its one rule."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from leads.common.business_time import business_minutes_ago, business_minutes_between, friendly_age
from leads.models import Lead

pytestmark = pytest.mark.django_db


def ist(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026, IST: the 28th is a Saturday, the 29th a Sunday, the 30th a Monday."""
    return timezone.make_aware(datetime(2026, 11, day, hour, minute))


@pytest.fixture(autouse=True)
def _dealership_hours(settings) -> None:
    settings.LEAD_BUSINESS_HOURS = (9, 19)
    settings.LEAD_BUSINESS_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat"]
    settings.LEAD_FIRST_CONTACT_MINUTES = 15


def test_a_lead_from_saturday_evening_is_due_fifteen_business_minutes_into_monday():
    assert business_minutes_ago(15, now=ist(30, 9, 10)) == ist(28, 18, 55)
    assert business_minutes_ago(15, now=ist(30, 9, 30)) == ist(30, 9, 15)
    assert business_minutes_between(ist(28, 18, 55), ist(30, 9, 10)) == 15


def test_business_minutes_between_skips_nights_and_sundays_even_over_many_weeks():
    one_week = 6 * 10 * 60  # six ten-hour days

    assert business_minutes_between(ist(28, 22), ist(30, 8)) == 0
    assert business_minutes_between(ist(30, 9), ist(30, 9) + timedelta(weeks=10)) == 10 * one_week
    assert business_minutes_between(ist(30, 12), ist(30, 12) + timedelta(weeks=10, days=1)) == 10 * one_week + 600


def test_ages_read_as_minutes_hours_or_business_days():
    assert [friendly_age(m) for m in (0, 12, 60, 185, 1199, 1200, 3000)] == [
        "0 min",
        "12 min",
        "1 h",
        "3 h",
        "19 h",
        "2 d",
        "5 d",
    ]


def test_overdue_means_new_uncontacted_real_and_older_than_the_sla_in_business_minutes(make_lead):
    now = ist(30, 9, 12)
    late = make_lead(name="late", received_at=ist(28, 18, 50))  # 10 minutes on Saturday, 12 on Monday
    make_lead(name="in time", received_at=ist(30, 9, 5))
    make_lead(name="overnight arrival, 12 business minutes", received_at=ist(29, 23))
    make_lead(name="contacted", received_at=ist(28, 12), status=Lead.Status.CONTACTED)
    make_lead(name="called", received_at=ist(28, 12), first_contacted_at=ist(28, 12, 5))
    make_lead(name="test lead", received_at=ist(28, 12), is_test=True)

    overdue = Lead.objects.overdue(now=now)

    assert list(overdue.values_list("name", flat=True)) == [late.name]


def test_the_sla_minutes_come_from_settings(make_lead, settings):
    lead = make_lead(received_at=ist(30, 9, 0))
    settings.LEAD_FIRST_CONTACT_MINUTES = 30

    assert not Lead.objects.overdue(now=ist(30, 9, 20)).filter(pk=lead.pk).exists()
    assert Lead.objects.overdue(now=ist(30, 9, 31)).filter(pk=lead.pk).exists()
