"""/v1/leads/<partner> behaves exactly like the guide's path (guide §9)."""

from __future__ import annotations

import pytest

from leads.models import Lead
from leads.partners import PARTNERS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
@pytest.mark.parametrize("suffix", ["", "/"])
def test_v1_path_accepts_the_guide_sample(post_lead, partner, suffix):
    response = post_lead(partner, dict(partner.sample), path=partner.v1_path + suffix)

    assert response.status_code == 201
    assert response.json()["message"] == partner.success_message
    assert Lead.objects.get().platform == partner.name


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_v1_path_answers_errors_identically(post_lead, partner):
    assert post_lead(partner, dict(partner.sample), key=None, path=partner.v1_path).json() == {
        "error": "Missing API key"
    }
    assert post_lead(partner, {}, path=partner.v1_path).json() == {
        "error": "Missing required fields: name, phone_number"
    }


def test_v1_duplicates_are_shared_with_the_guide_path(post_lead):
    from leads.partners import CARDEKHO

    first = post_lead(CARDEKHO, dict(CARDEKHO.sample))

    second = post_lead(CARDEKHO, dict(CARDEKHO.sample), path=CARDEKHO.v1_path)

    assert second.json() == {**first.json(), "duplicate": True}


def test_v1_unknown_partner_is_json_404(client):
    response = client.post("/v1/leads/olx", "{}", content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {"error": "Unknown partner: olx"}
