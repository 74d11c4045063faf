"""Superusers add field aliases in the admin, and replay refused deliveries from the ledger."""

from __future__ import annotations

import pytest
from django.urls import reverse

from leads.intake.aliases import partner_aliases
from leads.models import Delivery, FieldAlias, Lead
from leads.partners import CARWALE

pytestmark = pytest.mark.django_db

ADD = reverse("admin:leads_fieldalias_add")
RENAMED = {"customer_name": "Sunita Rao", "buyer_mobile": "9123456780"}


def test_a_superuser_adds_an_alias_that_leads_use_at_once(admin_client, admin_user, post_lead):
    response = admin_client.post(ADD, {"partner": "carwale", "field": "phone_number", "alias": " buyer_mobile "})

    assert response.status_code == 302
    alias = FieldAlias.objects.get()
    assert (alias.alias, alias.created_by) == ("buyer_mobile", admin_user.username)
    assert partner_aliases(CARWALE)["phone_number"][-1] == "buyer_mobile"
    assert post_lead(CARWALE, RENAMED).status_code == 201


def test_a_guide_alias_cannot_be_added_again(admin_client):
    response = admin_client.post(ADD, {"partner": "carwale", "field": "name", "alias": "mobile"})

    assert response.status_code == 200
    assert "already one of the guide&#x27;s aliases of phone_number for CarWale" in response.content.decode()
    assert not FieldAlias.objects.exists()


def test_deleting_an_alias_takes_effect_in_this_process_at_once(admin_client):
    admin_client.post(ADD, {"partner": "carwale", "field": "car_model", "alias": "variant"})
    alias = FieldAlias.objects.get()

    admin_client.post(reverse("admin:leads_fieldalias_delete", args=[alias.pk]), {"post": "yes"})

    assert "variant" not in partner_aliases(CARWALE)["car_model"]


def test_sales_staff_never_see_field_aliases(sales_client):
    assert sales_client.get(reverse("admin:leads_fieldalias_changelist")).status_code == 403


def test_the_ledger_action_replays_the_selected_refused_deliveries(admin_client, post_lead):
    post_lead(CARWALE, RENAMED)
    admin_client.post(ADD, {"partner": "carwale", "field": "phone_number", "alias": "buyer_mobile"})
    delivery = Delivery.objects.get()

    response = admin_client.post(
        reverse("admin:leads_delivery_changelist"),
        {"action": "replay", "_selected_action": [delivery.pk]},
        follow=True,
    )

    lead = Lead.objects.get()
    page = response.content.decode()
    assert f"stored as lead {lead.public_id}" in page
    assert "Replayed 1 of 1 selected: 1 stored as new leads." in page
    delivery.refresh_from_db()
    assert delivery.lead == lead
