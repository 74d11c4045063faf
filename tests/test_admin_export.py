"""CSV export: selected or the whole filtered list, streamed, Excel-friendly, formula-proof."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from leads.common.csv import neutralise
from leads.models import ExportRecord
from tests.downloads import asgi_download, body_of, lines_of

pytestmark = pytest.mark.django_db
URL = "/admin/leads/lead/"


def rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = body_of(response).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_export_selected_leads(manager_client, make_lead):
    chosen = make_lead(name="रवि कुमार", car_model="MG Windsor EV")
    make_lead(name="Not chosen", phone_number="9123456780")

    response = manager_client.post(URL, {"action": "export_selected", "_selected_action": [chosen.pk]})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-selected-')
    header, *data = rows(response)
    assert header[:4] == ["Received (IST)", "Platform", "Name", "Phone"]
    assert [(row[2], row[3], row[5]) for row in data] == [("रवि कुमार", "'+919876543210", "MG Windsor EV")]


@pytest.mark.parametrize("query", ["assignee__id__exact=abc"])
def test_a_hand_edited_export_query_goes_back_to_the_list_as_the_list_would(manager_client, make_lead, query):
    make_lead()

    response = manager_client.get(f"{URL}export/?{query}")

    assert (response.status_code, response["Location"]) == (302, f"{URL}?e=1")
    assert manager_client.get(f"{URL}?{query}")["Location"] == f"{URL}?e=1"  # the list's own answer


@pytest.mark.parametrize("query", ["bogus=1", "id__gt=abc", "payload__icontains=x"])
def test_an_export_with_a_lookup_the_list_ignores_goes_to_the_list_that_says_so(manager_client, make_lead, query):
    make_lead()

    response = manager_client.get(f"{URL}export/?{query}")

    assert (response.status_code, response["Location"]) == (302, f"{URL}?{query}")
    assert not ExportRecord.objects.exists()


@pytest.mark.parametrize("query", ["received_from=abc", "received_to=9999-12-31", "received_from=0001-01-01"])
def test_an_export_with_a_date_the_list_would_ignore_goes_to_the_list_that_says_why(manager_client, make_lead, query):
    make_lead()

    response = manager_client.get(f"{URL}export/?{query}")

    assert (response.status_code, response["Location"]) == (302, f"{URL}?{query}")
    assert ExportRecord.objects.count() == 0
    assert "it was ignored" in str(next(iter(manager_client.get(response["Location"]).context["messages"])))


def test_export_the_whole_filtered_list(manager_client, make_lead):
    make_lead(name="Dekho", platform="CarDekho")
    make_lead(name="Wale", platform="CarWale", phone_number="9123456780")

    response = manager_client.get(URL + "export/", {"platform__exact": "CarWale"})

    assert [row[2] for row in rows(response)[1:]] == ["Wale"]


def test_list_page_links_to_the_filtered_export_for_managers_only(manager_client, sales_client, make_lead):
    make_lead()

    manager_html = manager_client.get(URL, {"platform__exact": "CarWale"}).content.decode()
    sales_html = sales_client.get(URL).content.decode()

    assert 'href="/admin/leads/lead/export/?platform__exact=CarWale"' in manager_html
    assert "export/" not in sales_html


def test_sales_cannot_export(sales_client, make_lead):
    lead = make_lead()

    assert sales_client.get(URL + "export/").status_code == 403
    response = sales_client.post(URL, {"action": "export_selected", "_selected_action": [lead.pk]})
    assert not isinstance(response, StreamingHttpResponse)


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_formula_cells_are_neutralised(manager_client, make_lead, dangerous):
    make_lead(name=dangerous, campaign=dangerous)

    (data,) = rows(manager_client.get(URL + "export/"))[1:]

    assert data[2] == "'" + dangerous
    assert data[6] == "'" + dangerous


def test_plain_values_are_left_alone():
    assert neutralise("Ravi") == "Ravi"
    assert neutralise("9876543210") == "9876543210"


def test_export_streams_and_reads_in_chunks(manager_client, make_lead, django_assert_max_num_queries):
    for n in range(30):
        make_lead(name=f"Lead {n}", phone_number=f"90000{n:05d}")

    response = manager_client.get(URL + "export/")

    assert response.streaming
    first, *rest = lines_of(response)
    assert first.decode().startswith("\ufeffReceived (IST)")
    assert len(rest) == 30


def test_under_asgi_an_export_is_streamed_not_read_whole_before_its_first_byte(manager_client, make_lead, recwarn):
    # Django's ASGI handler reads a download built on a plain iterator into a list first (and warns so); at a
    # million leads that list would sit in one server process's memory.
    for n in range(3):
        make_lead(name=f"Lead {n}", phone_number=f"90000{n:05d}")
    cookies = {name: morsel.value for name, morsel in manager_client.cookies.items()}

    status, parts = asgi_download(URL + "export/", cookies=cookies)

    assert status == 200
    assert len(parts) == 4  # the header and three rows, each sent as it was read
    assert not [w for w in recwarn if "consume synchronous iterators" in str(w.message)]
    assert (ExportRecord.objects.get().row_count, ExportRecord.objects.get().complete) == (3, True)
