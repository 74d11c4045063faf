"""The managers' report over a long range comes from a snapshot a few minutes old (leads.reporting.snapshots):
a month or less is always live, the page's long ranges are worked out by a periodic job, and the page says when."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from leads import tasks
from leads.reporting import queries, snapshots
from leads.reporting.views import ReportRangeForm
from tests.test_admin_reports import csv_rows

pytestmark = pytest.mark.django_db
REPORT = "/admin/reports/leads/"


def received(page: str) -> str:
    """The "Leads received" figure of the page's All leads line."""
    match = re.search(r'class="report-total".*?data-label="Leads received"><strong>(\d+)</strong>', page, re.S)
    assert match, page
    return match[1]


def preset(label: str) -> snapshots.Preset:
    return snapshots.preset(label, timezone.localdate())


def range_of(p: snapshots.Preset) -> dict[str, str]:
    return {"first": p.first.isoformat(), "last": p.last.isoformat()}


def test_a_year_is_read_from_its_snapshot_which_the_periodic_job_works_out_again(manager_client, make_lead):
    year = range_of(preset("Last 365 days"))
    make_lead(received_at=timezone.now() - timedelta(days=200))
    first = manager_client.get(REPORT, year).content.decode()
    assert received(first) == "1"
    assert "Figures as of " in first and " IST." in first

    make_lead(received_at=timezone.now() - timedelta(hours=1))
    # Until the snapshot is worked out again, the year shows what it held: and says how old that is.
    assert received(manager_client.get(REPORT, year).content.decode()) == "1"

    # Its CSV downloads from the same snapshot as the screen.
    rows = csv_rows(manager_client.get(REPORT, {**year, "export": "campaign"}))
    assert rows[-1][:3] == ["All leads", "", "1"]

    tasks.refresh_report_snapshots(timestamp=0)
    assert received(manager_client.get(REPORT, year).content.decode()) == "2"
    assert csv_rows(manager_client.get(REPORT, {**year, "export": "campaign"}))[-1][:3] == ["All leads", "", "2"]


def test_a_month_or_less_is_always_live(manager_client, make_lead):
    make_lead(received_at=timezone.now() - timedelta(days=3))
    for label in ("Last 30 days", "This month"):
        assert manager_client.get(REPORT, range_of(preset(label))).status_code == 200
    make_lead(received_at=timezone.now() - timedelta(minutes=5))

    page = manager_client.get(REPORT, range_of(preset("Last 30 days"))).content.decode()
    assert received(page) == "2"
    assert "Figures as of" not in page
    assert received(manager_client.get(REPORT).content.decode()) == "2"  # the default range


@pytest.mark.parametrize(
    ("today", "long_ranges"),
    [
        # This financial year and the last 365 days.
        (date(2026, 12, 7), [(date(2026, 4, 1), date(2026, 12, 7)), (date(2025, 12, 8), date(2026, 12, 7))]),
        # The year's last day: the two are one range, worked out once.
        (date(2026, 3, 31), [(date(2025, 4, 1), date(2026, 3, 31))]),
        # Ten days into the financial year, it is live; so are last month and this month, always.
        (date(2026, 4, 10), [(date(2025, 4, 11), date(2026, 4, 10))]),
    ],
)
def test_the_periodic_job_keeps_a_snapshot_of_each_long_range_the_page_links_to(make_lead, today, long_ranges):
    make_lead(received_at=timezone.make_aware(datetime.combine(today, datetime.min.time())) - timedelta(days=40))

    worked_out = snapshots.preset_reports_refresh(today)

    assert [(report.first, report.last) for report in worked_out] == long_ranges
    for report in worked_out:
        kept = snapshots.lead_report(first=report.first, last=report.last)
        assert kept == report and kept.kept  # the snapshot, not worked out again
        fresh = queries.lead_report(first=report.first, last=report.last)
        assert (kept.total, kept.by_salesperson, kept.by_campaign) == (
            fresh.total,
            fresh.by_salesperson,
            fresh.by_campaign,
        )
        assert kept.total.received == 1


def test_31_days_are_live_and_32_come_from_a_snapshot(make_lead):
    today = timezone.localdate()
    make_lead(received_at=timezone.now() - timedelta(days=2))
    month = {"first": today - timedelta(days=30), "last": today}
    longer = {"first": today - timedelta(days=31), "last": today}
    assert snapshots.lead_report(**month).total.received == 1
    assert snapshots.lead_report(**longer).total.received == 1

    make_lead(received_at=timezone.now() - timedelta(hours=2))

    assert snapshots.lead_report(**month).total.received == 2
    assert not snapshots.lead_report(**month).kept
    assert snapshots.lead_report(**longer).total.received == 1
    assert snapshots.lead_report(**longer).kept


def test_any_other_long_range_is_worked_out_when_first_asked_and_again_once_its_time_is_up(
    manager_client, make_lead, monkeypatch
):
    make_lead(received_at=timezone.now() - timedelta(days=100))
    today = timezone.localdate()
    odd = {"first": (today - timedelta(days=150)).isoformat(), "last": (today - timedelta(days=50)).isoformat()}
    assert received(manager_client.get(REPORT, odd).content.decode()) == "1"
    make_lead(received_at=timezone.now() - timedelta(days=60))
    assert received(manager_client.get(REPORT, odd).content.decode()) == "1"

    # Ten minutes, shortened: the next snapshot is kept a second, and once it has run out the range is worked
    # out again.
    monkeypatch.setattr(snapshots, "KEPT", timedelta(seconds=1))
    cache.clear()
    assert received(manager_client.get(REPORT, odd).content.decode()) == "2"
    make_lead(received_at=timezone.now() - timedelta(days=70))
    give_up = time.monotonic() + 10
    while received(page := manager_client.get(REPORT, odd).content.decode()) != "3" and time.monotonic() < give_up:
        time.sleep(0.2)
    assert received(page) == "3"


CACHE_DOWN = override_settings(
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        }
    }
)


@CACHE_DOWN
def test_with_the_cache_down_a_long_range_is_worked_out_at_each_visit(manager_client, make_lead, caplog):
    year = range_of(preset("Last 365 days"))
    make_lead(received_at=timezone.now() - timedelta(days=100))
    assert received(manager_client.get(REPORT, year).content.decode()) == "1"
    make_lead(received_at=timezone.now() - timedelta(days=10))

    page = manager_client.get(REPORT, year).content.decode()
    assert received(page) == "2"
    assert "Figures as of" not in page  # worked out now: nothing to say about its age
    assert snapshots.preset_reports_refresh(timezone.localdate())  # the job does its work, and keeps none
    assert "The cache is down" in caplog.text


def test_a_changed_sla_is_a_different_snapshot(make_lead, settings):
    year = preset("Last 365 days")
    day = timezone.localdate() - timedelta(days=30)
    wednesday = day - timedelta(days=(day.weekday() - 2) % 7)
    arrived = timezone.make_aware(datetime.combine(wednesday, datetime.min.time()).replace(hour=11))
    make_lead(received_at=arrived, first_contacted_at=arrived + timedelta(minutes=20))  # 20 business minutes
    settings.LEAD_FIRST_CONTACT_MINUTES = 15
    assert snapshots.lead_report(first=year.first, last=year.last).total.contacted_within_sla == 0
    settings.LEAD_FIRST_CONTACT_MINUTES = 6000
    assert snapshots.lead_report(first=year.first, last=year.last).total.contacted_within_sla == 1


@pytest.mark.parametrize(
    ("today", "financial_year", "last_month"),
    [
        (date(2027, 2, 15), date(2026, 4, 1), (date(2027, 1, 1), date(2027, 1, 31))),
        (date(2026, 4, 1), date(2026, 4, 1), (date(2026, 3, 1), date(2026, 3, 31))),
        (date(2026, 3, 31), date(2025, 4, 1), (date(2026, 2, 1), date(2026, 2, 28))),
        (date(2026, 1, 10), date(2025, 4, 1), (date(2025, 12, 1), date(2025, 12, 31))),
        (date(2028, 2, 29), date(2027, 4, 1), (date(2028, 1, 1), date(2028, 1, 31))),
        (date(2028, 3, 31), date(2027, 4, 1), (date(2028, 2, 1), date(2028, 2, 29))),  # 366 days: the longest
    ],
)
def test_the_ranges_the_page_offers(today, financial_year, last_month):
    ranges = {p.label: (p.first, p.last) for p in snapshots.preset_ranges(today)}
    assert ranges == {
        "Last 30 days": (today - timedelta(days=29), today),
        "This month": (today.replace(day=1), today),
        "Last month": last_month,
        "This financial year": (financial_year, today),
        "Last 365 days": (today - timedelta(days=364), today),
    }
    for first, last in ranges.values():  # each a range the report's form accepts
        assert ReportRangeForm({"first": first.isoformat(), "last": last.isoformat()}).is_valid()


def test_the_page_links_its_ranges_and_each_shows_its_dates(manager_client):
    page = manager_client.get(REPORT).content.decode()
    for p in snapshots.preset_ranges(timezone.localdate()):
        link = f'href="?first={p.first.isoformat()}&amp;last={p.last.isoformat()}"'
        assert f"{link}>{p.label}</a>" in page or f'{link} aria-current="true">{p.label}</a>' in page
        shown = manager_client.get(REPORT, range_of(p)).content.decode()
        assert f'value="{p.first.isoformat()}"' in shown and f'value="{p.last.isoformat()}"' in shown
        # The range shown is marked among the links (the default range is the first of them).
        assert f'{link} aria-current="true">{p.label}</a>' in shown
    assert 'aria-current="true">Last 30 days</a>' in page


def test_the_snapshot_time_reads_as_every_time_on_screen(manager_client, make_lead):
    year = range_of(preset("Last 365 days"))
    page = manager_client.get(REPORT, year).content.decode()
    shown = re.search(r"Figures as of (\d\d \w{3} \d{4}, \d\d:\d\d) IST", page)
    assert shown, page
    moment = timezone.make_aware(datetime.strptime(shown[1], "%d %b %Y, %H:%M"))
    assert abs(timezone.now() - moment) < timedelta(minutes=2)
