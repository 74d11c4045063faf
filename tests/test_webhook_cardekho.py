"""CarDekho's field aliases (guide §5), in the guide's priority order."""

from __future__ import annotations

import pytest

from leads.models import Lead
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "aliases"),
    [
        ("name", ["name", "customer_name", "contact_name"]),
        ("phone_number", ["phone_number", "mobile", "phone"]),
        ("car_model", ["car_model", "vehicle_model", "model"]),
        ("lead_url", ["lead_url", "page_url", "lead_detail_url"]),
        ("campaign", ["campaign"]),
    ],
)
def test_registry_matches_the_guide(field, aliases):
    assert list(CARDEKHO.aliases[field]) == aliases


@pytest.mark.parametrize("alias", ["name", "customer_name", "contact_name"])
def test_each_name_alias_is_read(post_lead, alias):
    response = post_lead(CARDEKHO, {alias: "Ravi Kumar", "phone_number": "9876543210"})

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi Kumar"


@pytest.mark.parametrize("alias", ["phone_number", "mobile", "phone"])
def test_each_phone_alias_is_read(post_lead, alias):
    response = post_lead(CARDEKHO, {"name": "Ravi", alias: "9876543210"})

    assert response.status_code == 201
    assert Lead.objects.get().phone_e164 == "+919876543210"


@pytest.mark.parametrize(
    ("alias", "field"),
    [("vehicle_model", "car_model"), ("model", "car_model"), ("page_url", "lead_url"), ("lead_detail_url", "lead_url")],
)
def test_optional_aliases_are_read(post_lead, alias, field):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", alias: "value"})

    assert getattr(Lead.objects.get(), field) == "value"


def test_name_beats_customer_name(post_lead):
    post_lead(
        CARDEKHO, {"customer_name": "Second", "name": "First", "contact_name": "Third", "phone_number": "9876543210"}
    )

    assert Lead.objects.get().name == "First"


def test_car_model_beats_vehicle_model_and_lead_url_beats_page_url(post_lead):
    post_lead(
        CARDEKHO,
        {
            "name": "Ravi",
            "phone_number": "9876543210",
            "model": "Third",
            "vehicle_model": "Second",
            "car_model": "First",
            "page_url": "https://second",
            "lead_url": "https://first",
        },
    )

    lead = Lead.objects.get()
    assert (lead.car_model, lead.lead_url) == ("First", "https://first")


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_blank_or_null_alias_falls_through_to_the_next(post_lead, blank):
    post_lead(
        CARDEKHO,
        {"name": blank, "customer_name": blank, "contact_name": "Ravi", "phone_number": blank, "mobile": "9876543210"},
    )

    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Ravi", "+919876543210")


def test_unknown_fields_and_source_are_kept_in_payload(post_lead):
    payload = {**CARDEKHO.sample, "source": "cardekho_app", "utm_source": "cardekho_ads", "extra": {"nested": [1, 2]}}

    post_lead(CARDEKHO, payload)

    assert Lead.objects.get().payload == payload
