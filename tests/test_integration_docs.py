"""/docs/integration/: a printable guide per partner, built from the registry, never with a key."""

from __future__ import annotations

import html
import json

import pytest

from leads.intake.contract import ERROR_ANSWERS
from leads.partners import PARTNERS

pytestmark = pytest.mark.django_db


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_index_links_every_partner(client):
    text = page(client, "/docs/integration/")

    for partner in PARTNERS:
        assert f"/docs/integration/{partner.slug}/" in text


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_each_partner_page_has_the_whole_contract(client, settings, partner):
    text = page(client, f"/docs/integration/{partner.slug}/")

    assert f"{settings.PUBLIC_BASE_URL}{partner.path}" in text
    assert f"{settings.PUBLIC_BASE_URL}{partner.v1_path}" in text
    assert "X-API-Key" in text
    for aliases in partner.aliases.values():
        assert ", ".join(f"<code>{alias}</code>" for alias in aliases) in text
    for answer in ERROR_ANSWERS:
        assert answer.body in text
    # Each example is the body as sent, quotes escaped: the 405's is what a GET really gets.
    method_not_allowed = next(answer for answer in ERROR_ANSWERS if answer.status == 405)
    assert json.loads(method_not_allowed.body) == client.get(partner.path).json()
    assert partner.success_message in text
    assert settings.LEAD_RATE_LIMIT_SOFT in text
    assert settings.LEAD_RATE_LIMIT_HARD in text
    assert settings.SUPPORT_EMAIL in text
    assert "@media print" in text


def test_pages_follow_settings(client, settings):
    settings.LEAD_RATE_LIMIT_SOFT = "90/m"
    settings.PUBLIC_BASE_URL = "https://leads.raamgroup.in"

    text = page(client, "/docs/integration/cardekho/")

    assert "90/m" in text
    assert "https://leads.raamgroup.in/admin/mg-digital-leads/source/cardekho" in text


def test_pages_never_contain_a_key(client, settings, keys):
    settings.LEAD_API_KEYS = {"cardekho": "env-key-must-not-leak", "carwale": "env-key-2-must-not-leak"}

    texts = [page(client, f"/docs/integration/{p.slug}/") for p in PARTNERS] + [page(client, "/docs/integration/")]

    for text in texts:
        for secret in [*settings.LEAD_API_KEYS.values(), *keys.values()]:
            assert secret not in text
        assert "raam_" not in text


def test_unknown_partner_page_is_404(client):
    assert client.get("/docs/integration/olx/").status_code == 404


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_each_partner_page_lists_the_spellings_read_after_the_guides(client, partner):
    text = page(client, f"/docs/integration/{partner.slug}/")

    guide_row = ", ".join(f"<code>{alias}</code>" for alias in partner.aliases["phone_number"])
    assert f"{guide_row}<br>" in text
    common = ("mobile_no", "mobile_number", "contact_no", "customer_mobile")
    assert "then: " + ", ".join(f"<code>{alias}</code>" for alias in common) in text
    assert "<code>full_name</code>" in text
    assert "<code>first_name</code> or <code>fname</code> and <code>last_name</code> or <code>lname</code>" in text
    assert "<code>PHONE-NUMBER</code>" in text
    assert "<code>lead[name]</code>" in text
    assert '<code>{"number": "9876543210", "country_code": "91"}</code>' in text


def test_the_guide_describes_batches_with_their_cap(client, settings):
    settings.LEAD_MAX_BATCH_LEADS = 40

    text = page(client, "/docs/integration/cardekho/")

    assert "up to 40 leads a request" in text
    assert "207 Multi-Status" in text
