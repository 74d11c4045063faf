"""Every CSV export of leads is on file (who, when, which filter, how many rows), listed read-only for superusers."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from leads.models import ErasureRecord, ExportRecord
from tests.downloads import asgi_download, lines_of

pytestmark = pytest.mark.django_db
URL = "/admin/leads/lead/"


def consume(response) -> list[bytes]:
    return lines_of(response)


def test_a_filtered_export_is_recorded_with_who_the_query_and_the_rows_sent(manager_client, manager_user, make_lead):
    for n in range(3):
        make_lead(platform="CarWale", phone_number=f"900000000{n}")
    make_lead(platform="CarDekho", phone_number="9000000009")
    make_lead(platform="CarWale", phone_number="9000000008", is_test=True)  # never exported, never counted

    response = manager_client.get(URL + "export/", {"platform__exact": "CarWale", "q": "Ravi"})
    assert ExportRecord.objects.get().finished_at is None  # on file before the first row is sent
    lines = consume(response)

    record = ExportRecord.objects.get()
    assert (record.user, record.username, record.kind) == (manager_user, "meera-manager", "filtered")
    assert parse_qs(record.query) == {"platform__exact": ["CarWale"], "q": ["Ravi"]}
    assert (record.row_count, record.complete) == (3, True) == (len(lines) - 1, True)
    assert record.started_at <= record.finished_at


def test_a_selected_export_records_the_ticked_rows(manager_client, make_lead):
    chosen = [make_lead(phone_number="9000000001"), make_lead(phone_number="9000000002")]
    make_lead(phone_number="9000000003")

    consume(
        manager_client.post(
            URL + "?status__exact=new",
            {"action": "export_selected", "_selected_action": [lead.pk for lead in chosen]},
        )
    )

    record = ExportRecord.objects.get()
    assert record.kind == "selected"
    assert parse_qs(record.query) == {
        "status__exact": ["new"],
        "_selected_action": sorted(str(lead.pk) for lead in chosen),
    }
    assert (record.row_count, record.complete) == (2, True)


# Committed for real, so closing the response may close the connection as it does after every request.
@pytest.mark.django_db(transaction=True)
def test_an_export_cut_short_is_on_file_as_incomplete_with_the_rows_sent(manager_client, make_lead):
    for n in range(5):
        make_lead(phone_number=f"900000000{n}")
    cookies = {name: morsel.value for name, morsel in manager_client.cookies.items()}

    status, parts = asgi_download(URL + "export/", cookies=cookies, hang_up_after=3)  # the header and two rows

    assert status == 200
    assert len(parts) < 6  # the download never finished

    record = ExportRecord.objects.get()
    assert (record.row_count, record.complete) == (2, False)
    assert record.finished_at is not None


def test_a_refused_export_leaves_no_record(sales_client, make_lead):
    lead = make_lead()

    sales_client.get(URL + "export/")
    sales_client.post(URL, {"action": "export_selected", "_selected_action": [lead.pk]})

    assert not ExportRecord.objects.exists()


def test_superusers_see_the_exports_read_only(admin_client, manager_client, make_lead):
    make_lead()
    consume(manager_client.get(URL + "export/", {"platform__exact": "CarDekho"}))
    record = ExportRecord.objects.get()

    page = admin_client.get("/admin/leads/exportrecord/")
    detail = admin_client.get(f"/admin/leads/exportrecord/{record.pk}/change/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "meera-manager" in html and "platform__exact=CarDekho" in html
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client.get("/admin/leads/exportrecord/add/").status_code == 403
    assert admin_client.post(f"/admin/leads/exportrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ExportRecord.objects.filter(pk=record.pk).exists()


def test_managers_but_not_sales_see_the_export_log_and_nobody_in_sales_the_erasures(manager_client, sales_client):
    assert manager_client.get("/admin/leads/exportrecord/").status_code == 200
    assert sales_client.get("/admin/leads/exportrecord/").status_code == 403
    assert manager_client.get("/admin/leads/erasurerecord/").status_code == 403
    assert sales_client.get("/admin/leads/erasurerecord/").status_code == 403


@pytest.fixture
def many_leads(make_lead):
    return [make_lead(name=f"Buyer {n}", phone_number=f"98765{n:05d}") for n in range(120)]


def page_through(client, pages: int) -> None:
    for page in range(pages):
        response = client.get(URL, {"mine": "all", "p": page + 1})
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == (50 if page < 2 else 20)


def test_paging_past_the_hours_bulk_read_limit_is_on_file_once_for_the_managers(
    sales_client, sales_user, manager_client, many_leads, settings
):
    settings.LEAD_BULK_READ_AUDIT_ROWS = 60  # counted in the real Redis, like every shared counter

    page_through(sales_client, 3)  # 50, then 100 (past 60: on file), then 120 (no new mark)

    record = ExportRecord.objects.get()
    assert (record.user, record.username, record.kind) == (sales_user, "sam-sales", "paged")
    assert parse_qs(record.query) == {"mine": ["all"], "p": ["2"]}
    assert (record.row_count, record.complete) == (100, True)
    html = manager_client.get("/admin/leads/exportrecord/", {"kind": "paged"}).content.decode()
    assert "sam-sales" in html and "paged" in html


def test_paging_below_the_bulk_read_limit_is_not_on_file(sales_client, many_leads, settings):
    settings.LEAD_BULK_READ_AUDIT_ROWS = 120

    page_through(sales_client, 3)  # exactly 120 rows: not more than the limit

    assert not ExportRecord.objects.exists()


def test_each_user_is_counted_apart(sales_client, manager_client, many_leads, settings):
    settings.LEAD_BULK_READ_AUDIT_ROWS = 60

    page_through(sales_client, 1)
    page_through(manager_client, 1)

    assert not ExportRecord.objects.exists()


def test_superusers_see_erasure_requests_with_the_phone_masked_read_only(admin_client):
    record = ErasureRecord.objects.create(requested_by="dpo@raamgroup.in", phone_masked="91********10", leads_erased=2)

    html = admin_client.get("/admin/leads/erasurerecord/").content.decode()

    assert "dpo@raamgroup.in" in html and "91********10" in html
    assert admin_client.get("/admin/leads/erasurerecord/add/").status_code == 403
    assert admin_client.post(f"/admin/leads/erasurerecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
