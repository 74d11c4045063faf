"""The managers' report and the monthly partner reconciliation: who may see them, their figures, CSV and bad input."""

from __future__ import annotations

import csv
import importlib
import io
import statistics
from datetime import datetime, timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.common.business_time import business_minutes_between
from leads.intake.keys import api_key_create
from leads.models import Delivery, ExportRecord, Lead
from leads.partners import CARDEKHO
from leads.reporting import queries as reports
from tests.downloads import body_of

pytestmark = pytest.mark.django_db
REPORT = "/admin/reports/leads/"
RECONCILIATION = "/admin/reports/partners/"
NOVEMBER = {"first": "2025-11-01", "last": "2025-11-30"}


def ist(*args: int) -> datetime:
    return timezone.make_aware(datetime(*args))


def csv_rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = body_of(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def salespeople(roles) -> tuple[User, User]:
    return (
        User.objects.create_user("asha", first_name="Asha", last_name="Menon", is_staff=True),
        User.objects.create_user("bilal", is_staff=True),
    )


@pytest.fixture
def november(make_lead, salespeople):
    """Asha: 4 leads in November (1 test drive, 1 booked); Bilal: 1, lost; 1 unassigned; and leads that never count."""
    asha, bilal = salespeople
    for n, status in enumerate(["new", "contacted", "test_drive_booked", "booked"]):
        make_lead(assignee=asha, status=status, received_at=ist(2025, 11, 3 + n, 11, 0), phone_number=f"98765432{n}0")
    make_lead(assignee=bilal, status="lost", received_at=ist(2025, 11, 30, 23, 59), campaign="Festive Offers")
    make_lead(received_at=ist(2025, 11, 1, 0, 0), platform="CarWale", campaign="Festive Offers")
    make_lead(assignee=asha, received_at=ist(2025, 12, 1, 0, 0))  # the next IST day, though still 30 Nov in UTC
    make_lead(assignee=asha, received_at=ist(2025, 10, 31, 23, 59))
    make_lead(assignee=asha, received_at=ist(2025, 11, 10, 11, 0), is_test=True, status="booked")
    return asha, bilal


# --- who sees it -------------------------------------------------------------------------------------


def test_a_sales_manager_sees_the_report_and_the_reconciliation(manager_client):
    assert manager_client.get(REPORT).status_code == 200
    assert manager_client.get(RECONCILIATION).status_code == 200


def test_a_superuser_sees_the_report(db):
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@raamgroup.in", "pw"))

    assert client.get(REPORT).status_code == 200


def test_a_sales_user_is_refused_the_report_its_csv_and_the_reconciliation(sales_client):
    assert sales_client.get(REPORT).status_code == 403
    assert sales_client.get(REPORT, {**NOVEMBER, "export": "salesperson"}).status_code == 403
    assert sales_client.get(RECONCILIATION, {"month": "2025-11", "export": "csv"}).status_code == 403
    assert ExportRecord.objects.count() == 0


def test_someone_signed_out_is_sent_to_sign_in(client):
    response = client.get(REPORT)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_index_links_the_reports_for_managers_only(manager_client, sales_client):
    assert "/admin/reports/leads/" in manager_client.get("/admin/").content.decode()
    assert "/admin/reports/leads/" not in sales_client.get("/admin/").content.decode()


# --- the figures -------------------------------------------------------------------------------------


def test_figures_by_salesperson_count_each_ist_day_of_the_range_and_never_test_leads(november):
    by_person = {
        f.group: f
        for f in reports.lead_figures_by_salesperson(first=ist(2025, 11, 1).date(), last=ist(2025, 11, 30).date())
    }

    assert {group: f.received for group, f in by_person.items()} == {
        ("Asha Menon (asha)",): 4,
        ("bilal",): 1,
        ("Unassigned",): 1,
    }
    asha = by_person[("Asha Menon (asha)",)]
    assert (asha.reached_test_drive, asha.booked) == (0.5, 0.25)
    assert (by_person[("bilal",)].reached_test_drive, by_person[("bilal",)].booked) == (0.0, 0.0)


def test_figures_by_platform_and_campaign(november):
    by_campaign = {
        f.group: f.received
        for f in reports.lead_figures_by_campaign(first=ist(2025, 11, 1).date(), last=ist(2025, 11, 30).date())
    }

    assert by_campaign == {
        ("CarDekho", "(no campaign)"): 4,
        ("CarDekho", "Festive Offers"): 1,
        ("CarWale", "Festive Offers"): 1,
    }


def test_median_time_to_first_contact_and_the_share_contacted_within_the_sla_in_business_minutes(make_lead, settings):
    settings.LEAD_FIRST_CONTACT_MINUTES = 15
    settings.LEAD_BUSINESS_HOURS = (9, 19)
    settings.LEAD_BUSINESS_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat"]
    for received, contacted in [
        (ist(2025, 11, 10, 10, 0), ist(2025, 11, 10, 10, 14)),  # Monday, 14 minutes: within
        (ist(2025, 11, 10, 10, 0), ist(2025, 11, 10, 10, 16)),  # 16 minutes: late
        (ist(2025, 11, 7, 22, 0), ist(2025, 11, 8, 9, 10)),  # Friday night, 09:10 Saturday: 10 business minutes
        (ist(2025, 11, 8, 18, 55), ist(2025, 11, 10, 9, 11)),  # Saturday 18:55 to Monday 09:11: 16, late
        (ist(2025, 11, 8, 18, 55), ist(2025, 11, 10, 9, 10)),  # ... to 09:10: 15, within
        (ist(2025, 11, 10, 11, 0), None),  # not contacted yet: out of the median, not within the SLA
    ]:
        make_lead(received_at=received, first_contacted_at=contacted)

    total = reports.lead_figures_total(first=ist(2025, 11, 1).date(), last=ist(2025, 11, 30).date())

    assert total.received == 6
    assert total.median_to_first_contact == timedelta(hours=11, minutes=10)  # clock time, of the five contacted
    assert total.contacted_within_sla == 0.5


def test_the_page_shows_both_tables_for_the_chosen_range(manager_client, november):
    response = manager_client.get(REPORT, NOVEMBER)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Asha Menon (asha)" in page
    assert "Festive Offers" in page
    assert "1 Nov 2025 to 30 Nov 2025" in page
    assert response.context["total"][0] == "6"


def test_the_range_defaults_to_the_last_30_ist_days(manager_client, make_lead):
    today = timezone.localdate()
    make_lead(received_at=ist(today.year, today.month, today.day, 0, 1) - timedelta(days=29))
    make_lead(received_at=ist(today.year, today.month, today.day, 0, 1) - timedelta(days=30))

    response = manager_client.get(REPORT)

    assert response.status_code == 200
    assert (response.context["first"], response.context["last"]) == (today - timedelta(days=29), today)
    assert response.context["total"][0] == "1"
    # The date boxes say so too, rather than standing empty above "from ... to ...".
    page = response.content.decode()
    assert f'name="first" value="{(today - timedelta(days=29)).isoformat()}"' in page
    assert f'name="last" value="{today.isoformat()}"' in page


# --- CSV ---------------------------------------------------------------------------------------------


def test_the_salesperson_table_downloads_as_csv_and_is_on_file(manager_client, manager_user, november):
    response = manager_client.get(REPORT, {**NOVEMBER, "export": "salesperson"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="lead-report-salesperson-20251101-20251130.csv"'
    header, *data = csv_rows(response)
    assert header[:2] == ["Salesperson", "Leads received"]
    assert [(row[0], row[1], row[4], row[5]) for row in data] == [
        ("Asha Menon (asha)", "4", "50.0", "25.0"),
        ("bilal", "1", "0.0", "0.0"),
        ("Unassigned", "1", "0.0", "0.0"),
        ("All leads", "6", "33.3", "16.7"),
    ]
    record = ExportRecord.objects.get()
    assert (record.username, record.kind, record.row_count, record.complete) == (
        "meera-manager",
        "lead report",
        4,
        True,
    )


def test_a_campaign_that_looks_like_a_formula_is_neutralised_in_csv(manager_client, make_lead):
    make_lead(received_at=ist(2025, 11, 5, 10, 0), campaign='=HYPERLINK("http://evil.example","Click")')

    response = manager_client.get(REPORT, {**NOVEMBER, "export": "campaign"})

    header, *data = csv_rows(response)
    assert header[:3] == ["Platform", "Campaign", "Leads received"]
    assert data[0][:3] == ["CarDekho", '\'=HYPERLINK("http://evil.example","Click")', "1"]


def test_partner_data_with_html_is_escaped_on_the_page(manager_client, make_lead, roles):
    person = User.objects.create_user("eve", first_name="<b>Eve</b>", is_staff=True)
    make_lead(received_at=ist(2025, 11, 5, 10, 0), campaign="<script>alert(1)</script>", assignee=person)

    page = manager_client.get(REPORT, NOVEMBER).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Eve</b>" not in page
    assert "&lt;b&gt;Eve&lt;/b&gt; (eve)" in page


# --- bad dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"first": "2025-11-30", "last": "2025-11-01"}, "is after"),
        ({"first": "2025-02-30", "last": "2025-03-01"}, "Enter a valid date"),
        ({"first": "yesterday"}, "Enter a valid date"),
        ({"first": "0001-01-01", "last": "0001-01-31"}, "is outside 1900-01-01 to 9998-12-31"),
        ({"first": "9999-12-01", "last": "9999-12-31"}, "is outside 1900-01-01 to 9998-12-31"),
        ({"last": "9999-12-31"}, "“To” date 9999-12-31 is outside"),  # the date typed, not the default From
        ({"first": "2023-01-01", "last": "2025-01-01"}, "at most 366 days"),
    ],
)
def test_a_bad_range_is_explained_not_a_500(manager_client, params, message):
    response = manager_client.get(REPORT, params)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_bad_range_downloads_nothing(manager_client):
    response = manager_client.get(REPORT, {"first": "2025-13-01", "export": "salesperson"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert ExportRecord.objects.count() == 0


# --- the partner reconciliation ----------------------------------------------------------------------


@pytest.fixture
def partner_november(make_lead):
    make_lead(platform="CarDekho", received_at=ist(2025, 11, 1, 0, 0))
    make_lead(platform="CarDekho", received_at=ist(2025, 11, 30, 23, 59), phone_number="12345")
    make_lead(platform="CarDekho", received_at=ist(2025, 11, 15, 12, 0), is_test=True, phone_number="999")
    make_lead(platform="CarWale", received_at=ist(2025, 11, 20, 12, 0))
    make_lead(platform="CarWale", received_at=ist(2025, 12, 1, 0, 0))  # December in IST
    make_lead(platform="CarWale", received_at=ist(2025, 10, 31, 23, 59))
    production, staging = api_key_create(partner=CARDEKHO), api_key_create(partner=CARDEKHO, is_test=True)
    for prefix, at in [
        (production.api_key.prefix, ist(2025, 11, 2, 9, 0)),
        (production.api_key.prefix, ist(2025, 11, 3, 9, 0)),
        (production.api_key.prefix, ist(2025, 12, 1, 0, 30)),
        (staging.api_key.prefix, ist(2025, 11, 4, 9, 0)),
    ]:
        Delivery.objects.create(
            platform="CarDekho", key_prefix=prefix, status_code=200, outcome=Delivery.Outcome.DUPLICATE, received_at=at
        )


def test_the_reconciliation_counts_a_partners_month(partner_november):
    rows = {row.platform: row for row in reports.partner_reconciliation(month=ist(2025, 11, 17).date())}

    assert (rows["CarDekho"].leads, rows["CarDekho"].duplicates) == (2, 2)
    assert (rows["CarDekho"].invalid_phones, rows["CarDekho"].test_leads) == (1, 1)
    assert (rows["CarWale"].leads, rows["CarWale"].duplicates, rows["CarWale"].test_leads) == (1, 0, 0)


def test_the_reconciliation_downloads_as_csv(manager_client, partner_november):
    response = manager_client.get(RECONCILIATION, {"month": "2025-11", "export": "csv"})

    assert response["Content-Disposition"] == 'attachment; filename="partner-reconciliation-2025-11.csv"'
    assert csv_rows(response) == [
        ["Platform", "Leads", "Duplicates", "Invalid phones", "Test leads"],
        ["CarDekho", "2", "2", "1", "1"],
        ["CarWale", "1", "0", "0", "0"],
    ]
    assert ExportRecord.objects.get().kind == "reconciliation"


def test_the_reconciliation_opens_on_this_month(manager_client):
    response = manager_client.get(RECONCILIATION)

    this_month = timezone.localdate().replace(day=1)
    assert response.status_code == 200
    assert response.context["month"] == this_month
    assert f'name="month" value="{this_month:%Y-%m}"' in response.content.decode()  # the box says so too


@pytest.mark.parametrize("month", ["2025-13", "November", "0001-01", "0000-01", "2025-11-01"])
def test_a_bad_month_is_explained_not_a_500(manager_client, month):
    response = manager_client.get(RECONCILIATION, {"month": month})

    assert response.status_code == 400
    assert "errornote" in response.content.decode()


def test_the_migration_gives_leads_contacted_before_it_their_business_minutes(make_lead):
    migration = importlib.import_module("leads.migrations.0013_first_contact_business_minutes")
    lead = make_lead(received_at=ist(2025, 11, 7, 22, 0), first_contacted_at=ist(2025, 11, 8, 9, 10))
    Lead.objects.update(first_contact_business_minutes=None)  # as it was before the migration

    migration.backfill(apps, None)

    lead.refresh_from_db()
    assert lead.first_contact_business_minutes == business_minutes_between(lead.received_at, lead.first_contacted_at)


# --- the report's queries against a plain computation (issue 23: a year's report under 300 ms) -------------------


@pytest.fixture
def mixed_leads(make_lead, salespeople):
    """Leads of every kind the report groups: two salespeople and none, two partners, campaigns, every status,
    contacted or not, with a conversation or not, odd and even counts per group; and leads that must not count."""
    asha, bilal = salespeople
    zoya = User.objects.create_user("zoya", first_name="Zoya", is_staff=True)  # a first name only
    owners = [asha, bilal, None, zoya, asha]
    statuses = ["new", "contacted", "test_drive_booked", "booked", "lost", "contacted", "booked"]
    for n in range(23):
        received = ist(2025, 11, 1 + n, 9 + n % 9, 7 * n % 60)
        contacted = received + timedelta(minutes=3 * n * n % 700 + 1) if n % 4 else None
        lead = make_lead(
            assignee=owners[n % 5],
            status=statuses[n % 7],
            platform="CarWale" if n % 3 == 0 else "CarDekho",
            campaign=["", "Festive Offers", "EV Awareness"][n % 3 if n % 2 else 1],
            received_at=received,
            first_contacted_at=contacted,
            phone_number=f"98765{n:05d}",
        )
        if contacted and n % 3:
            Lead.objects.filter(pk=lead.pk).update(first_connected_at=contacted + timedelta(minutes=n % 5 * 11))
    make_lead(assignee=asha, received_at=ist(2025, 10, 31, 23, 59), first_contacted_at=ist(2025, 11, 1, 9, 0))
    make_lead(assignee=bilal, received_at=ist(2025, 11, 12, 10, 0), is_test=True, status="booked")
    return ist(2025, 11, 1).date(), ist(2025, 11, 30).date()


def reference_figures(leads: list[Lead], group: tuple[str, ...]) -> reports.LeadFigures:
    """The report's figures worked out in Python, one lead at a time: what the queries must agree with."""
    delays = [lead.first_contacted_at - lead.received_at for lead in leads if lead.first_contacted_at]
    talks = [lead.first_connected_at - lead.received_at for lead in leads if lead.first_connected_at]
    n = len(leads)
    minutes = [lead.first_contact_business_minutes for lead in leads]
    within = sum(1 for m in minutes if m is not None and m <= 15)
    return reports.LeadFigures(
        group=group,
        received=n,
        median_to_first_contact=statistics.median(delays) if delays else None,
        contacted_within_sla=within / n,
        reached_test_drive=sum(lead.status in ("test_drive_booked", "booked") for lead in leads) / n,
        booked=sum(lead.status == "booked" for lead in leads) / n,
        median_to_first_conversation=statistics.median(talks) if talks else None,
    )


def test_the_reports_figures_match_a_plain_computation_lead_by_lead(mixed_leads, settings):
    settings.LEAD_FIRST_CONTACT_MINUTES = 15
    first, last = mixed_leads
    leads = list(Lead.objects.filter(is_test=False, received_at__date__gte=first, received_at__date__lte=last))
    assert len(leads) == 23

    def label(user: User | None) -> str:
        if user is None:
            return "Unassigned"
        full_name = f"{user.first_name} {user.last_name}".strip()
        return f"{full_name} ({user.username})" if full_name else user.username

    people = sorted({lead.assignee for lead in leads if lead.assignee}, key=lambda user: user.username)
    expected_people = [
        reference_figures([lead for lead in leads if lead.assignee == user], (label(user),)) for user in people
    ] + [reference_figures([lead for lead in leads if lead.assignee is None], ("Unassigned",))]
    campaigns = sorted({(lead.platform, lead.campaign) for lead in leads})
    expected_campaigns = [
        reference_figures(
            [lead for lead in leads if (lead.platform, lead.campaign) == key], (key[0], key[1] or "(no campaign)")
        )
        for key in campaigns
    ]

    assert reports.lead_figures_total(first=first, last=last) == reference_figures(leads, ("All leads",))
    assert reports.lead_figures_by_salesperson(first=first, last=last) == expected_people
    assert reports.lead_figures_by_campaign(first=first, last=last) == expected_campaigns
    assert [f.group for f in expected_people] == [("Asha Menon (asha)",), ("bilal",), ("Zoya (zoya)",), ("Unassigned",)]


def test_the_reports_queries_read_only_their_covering_index(mixed_leads):
    """Each of the report's queries can be answered by an index-only scan of lead_report_idx: a measure on a column
    outside it would have the report read a year's whole rows again (about ten times the bytes)."""
    first, last = mixed_leads
    with CaptureQueriesContext(connection) as captured:
        reports.lead_figures_total(first=first, last=last)
        reports.lead_figures_by_salesperson(first=first, last=last)
        reports.lead_figures_by_campaign(first=first, last=last)
    lead_queries = [query["sql"] for query in captured.captured_queries if 'FROM "leads_lead"' in query["sql"]]
    assert len(lead_queries) == 3
    with transaction.atomic(), connection.cursor() as cursor:
        # A handful of rows would be read from the table anyway; forbid that to see which index can serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        for sql in lead_queries:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index Only Scan using lead_report_idx" in plan, plan
