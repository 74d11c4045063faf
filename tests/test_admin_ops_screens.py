"""Superusers' ops screens: the delivery ledger and API keys. Sales never see either."""

from __future__ import annotations

import pytest

from leads.intake.keys import api_key_create
from leads.models import Delivery
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db


def test_ledger_is_filterable_by_partner_outcome_and_status(admin_client):
    Delivery.objects.create(
        platform="CarDekho", status_code=400, outcome="rejected", error="Missing required fields: name"
    )
    Delivery.objects.create(platform="CarWale", status_code=201, outcome="created")

    response = admin_client.get(
        "/admin/leads/delivery/",
        {"platform__exact": "CarDekho", "outcome__exact": "rejected", "status_code__exact": "400"},
    )

    assert [d.error for d in response.context["cl"].result_list] == ["Missing required fields: name"]


def test_rejected_body_is_readable_and_escaped(admin_client):
    delivery = Delivery.objects.create(
        platform="CarDekho",
        status_code=400,
        outcome="rejected",
        body=b'{"phone": "98", "x": "<script>alert(1)</script>"}',
    )

    html = admin_client.get(f"/admin/leads/delivery/{delivery.pk}/change/").content.decode()

    assert "&quot;x&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in html
    assert "<script>alert(1)</script>" not in html


def test_non_utf8_body_is_shown_with_replacement_characters(admin_client):
    delivery = Delivery.objects.create(platform="CarDekho", status_code=400, outcome="rejected", body=b"\xff\xfe{")

    html = admin_client.get(f"/admin/leads/delivery/{delivery.pk}/change/").content.decode()

    assert "\ufffd\ufffd{" in html


def test_api_keys_screen_shows_prefix_partner_state_and_last_use_never_a_secret(admin_client):
    issued = api_key_create(partner=CARDEKHO, label="Amit")

    list_html = admin_client.get("/admin/leads/apikey/").content.decode()
    page_html = admin_client.get(f"/admin/leads/apikey/{issued.api_key.pk}/change/").content.decode()

    assert issued.api_key.prefix in list_html
    assert "active" in list_html
    for html in (list_html, page_html):
        assert issued.secret not in html
        assert issued.api_key.digest not in html
    assert admin_client.post(f"/admin/leads/apikey/{issued.api_key.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("path", ["/admin/leads/delivery/", "/admin/leads/apikey/"])
def test_sales_and_managers_cannot_open_ops_screens(sales_client, manager_client, path):
    assert sales_client.get(path).status_code == 403
    assert manager_client.get(path).status_code == 403


def test_sales_index_lists_leads_only(sales_client):
    html = sales_client.get("/admin/").content.decode()

    assert "/admin/leads/lead/" in html
    assert "/admin/leads/delivery/" not in html
    assert "/admin/leads/apikey/" not in html


def test_partner_supplied_values_are_escaped_in_the_ledger_list(admin_client, post_lead):
    post_lead(CARDEKHO, {"name": "x", "phone_number": "9876543210"}, key="raam_<script>_alert")

    html = admin_client.get("/admin/leads/delivery/").content.decode()

    assert "<script>" not in html.split('id="result_list"')[1]
    assert "&lt;script&gt;" in html
