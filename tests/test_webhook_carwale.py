"""CarWale's field aliases (guide §5): its own priority order, not CarDekho's."""

from __future__ import annotations

import pytest

from leads.models import Lead
from leads.partners import CARWALE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "aliases"),
    [
        ("name", ["customer_name", "name", "contact_name"]),
        ("phone_number", ["mobile", "phone_number", "phone"]),
        ("car_model", ["vehicle_model", "car_model", "model"]),
        ("lead_url", ["page_url", "lead_url", "url"]),
        ("campaign", ["campaign"]),
    ],
)
def test_registry_matches_the_guide(field, aliases):
    assert list(CARWALE.aliases[field]) == aliases


def test_guide_sample_maps_every_column(post_lead):
    post_lead(CARWALE, dict(CARWALE.sample))

    lead = Lead.objects.get()
    assert (lead.platform, lead.name, lead.phone_number, lead.phone_e164) == (
        "CarWale",
        "Sunita Rao",
        "9123456780",
        "+919123456780",
    )
    assert (lead.car_model, lead.lead_url, lead.campaign) == (
        "Hyundai Creta",
        "https://carwale.com/lead/456",
        "Creta Test Drive",
    )


def test_customer_name_beats_name(post_lead):
    post_lead(CARWALE, {"name": "Second", "customer_name": "First", "mobile": "9123456780"})

    assert Lead.objects.get().name == "First"


def test_mobile_beats_phone_number(post_lead):
    post_lead(CARWALE, {"customer_name": "Sunita", "phone_number": "9000000000", "mobile": "9123456780"})

    assert Lead.objects.get().phone_number == "9123456780"


def test_page_url_beats_lead_url_beats_url(post_lead):
    post_lead(
        CARWALE, {"customer_name": "Sunita", "mobile": "9123456780", "url": "u3", "lead_url": "u2", "page_url": "u1"}
    )

    assert Lead.objects.get().lead_url == "u1"


def test_vehicle_model_beats_car_model(post_lead):
    post_lead(
        CARWALE, {"customer_name": "Sunita", "mobile": "9123456780", "car_model": "Second", "vehicle_model": "First"}
    )

    assert Lead.objects.get().car_model == "First"


@pytest.mark.parametrize(("name_key", "phone_key"), [("name", "phone_number"), ("contact_name", "phone")])
def test_fallback_aliases_are_accepted(post_lead, name_key, phone_key):
    response = post_lead(CARWALE, {name_key: "Sunita", phone_key: "9123456780"})

    assert response.status_code == 201
    assert Lead.objects.get().name == "Sunita"


def test_missing_name_is_400(post_lead):
    response = post_lead(CARWALE, {"mobile": "9123456780"})

    assert response.status_code == 400
    assert response.json() == {"error": "Missing required fields: name"}
