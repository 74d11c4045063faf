"""Test leads (from partners' staging keys) stay out of the sales team's way: not listed, not exported."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.intake.keys import api_key_create
from leads.models import Lead
from leads.partners import CARDEKHO
from tests.downloads import body_of

pytestmark = pytest.mark.django_db

LIST = reverse("admin:leads_lead_changelist")
EXPORT = reverse("admin:leads_lead_export")


@pytest.fixture
def test_lead(post_lead) -> Lead:
    staging = api_key_create(partner=CARDEKHO, is_test=True)
    response = post_lead(CARDEKHO, {"name": "Staging Sam", "phone_number": "9000000009"}, key=staging.secret)
    assert response.status_code == 201
    return Lead.objects.get(public_id=response.json()["id"])


@pytest.fixture
def real_lead(post_lead) -> Lead:
    response = post_lead(CARDEKHO, {"name": "Ravi Kumar", "phone_number": "9876543210"})
    return Lead.objects.get(public_id=response.json()["id"])


def test_a_test_keys_lead_is_stored_and_answered_like_any_other_but_marked(test_lead):
    assert test_lead.is_test is True


def test_the_sales_list_hides_test_leads(sales_client, test_lead, real_lead):
    page = sales_client.get(LIST).content.decode()

    assert "Ravi Kumar" in page
    assert "Staging Sam" not in page


def test_a_filter_shows_only_the_test_leads(sales_client, test_lead, real_lead):
    page = sales_client.get(LIST, {"test": "only"}).content.decode()

    assert "Staging Sam" in page
    assert "Ravi Kumar" not in page


def test_a_salesperson_asking_from_their_landing_page_for_test_leads_gets_them(sales_client, test_lead, real_lead):
    # The landing page is "My open leads", and test leads are never assigned to anyone.
    landing = sales_client.get(LIST)
    only = next(
        choice["query_string"]
        for spec in landing.context["cl"].filter_specs
        for choice in spec.choices(landing.context["cl"])
        if choice["display"] == "Only test leads"
    )

    page = sales_client.get(LIST + only).content.decode()

    assert "Staging Sam" in page
    assert "Ravi Kumar" not in page


def test_exports_never_include_test_leads(manager_client, test_lead, real_lead):
    filtered = body_of(manager_client.get(EXPORT, {"test": "only"})).decode()
    selected = manager_client.post(
        LIST, {"action": "export_selected", "_selected_action": [test_lead.pk, real_lead.pk]}
    )
    selected_csv = body_of(selected).decode()

    assert "Staging Sam" not in filtered
    assert "Staging Sam" not in selected_csv
    assert "Ravi Kumar" in selected_csv


def test_a_same_phone_lead_is_not_a_duplicate_of_a_test_lead(post_lead, test_lead):
    response = post_lead(CARDEKHO, {"name": "Real buyer", "phone_number": test_lead.phone_number})

    assert response.json()["duplicate"] is False
    assert Lead.objects.real().get().name == "Real buyer"
