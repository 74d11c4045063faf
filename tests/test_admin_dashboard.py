"""The admin index shows leads per day per platform for 30 days, as inline SVG."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.reporting.queries import leads_per_day

pytestmark = pytest.mark.django_db


def test_chart_renders_with_a_bar_per_day_and_platform(admin_client, make_lead):
    make_lead(platform="CarDekho")
    make_lead(platform="CarDekho", phone_number="9123456780")
    make_lead(platform="CarWale", phone_number="9000000001", received_at=timezone.now() - timedelta(days=3))

    html = admin_client.get("/admin/").content.decode()

    assert 'class="leads-chart"' in html
    assert len(re.findall(r"<rect x=", html)) == 30 * 2 + 2  # bars, plus the two legend swatches
    today = timezone.localdate()
    assert f"{today:%d %b}: 2 CarDekho leads" in html
    assert f"{today - timedelta(days=3):%d %b}: 1 CarWale lead<" in html
    assert "CarDekho: 2" in html
    assert "http://" not in html.split('class="leads-chart"')[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", ""
    )


def test_counts_are_grouped_by_ist_day(make_lead):
    today = timezone.localdate()
    make_lead(received_at=timezone.now())
    make_lead(phone_number="9123456780", received_at=timezone.now() - timedelta(days=40))

    dates, series = leads_per_day(days=30)

    assert len(dates) == 30
    assert dates[-1] == today
    assert series["CarDekho"][-1] == 1
    assert sum(series["CarDekho"]) == 1
    assert sum(series["CarWale"]) == 0


def test_users_without_lead_access_see_no_chart(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="x", is_staff=True)
    client.force_login(user)

    assert "leads-chart" not in client.get("/admin/").content.decode()


def test_sales_see_the_chart(sales_client):
    assert "leads-chart" in sales_client.get("/admin/").content.decode()


def test_test_leads_are_not_counted_in_the_chart(make_lead):
    make_lead(is_test=True)
    make_lead(phone_number="9000000001")

    _, series = leads_per_day(days=1)

    assert series["CarDekho"] == [1]
