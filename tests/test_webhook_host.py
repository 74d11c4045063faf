"""A webhook request with a Host we do not serve gets the API's JSON 400, not Django's HTML page."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("only_our_host")]


@pytest.fixture
def only_our_host(settings):
    settings.ALLOWED_HOSTS = ["raam-group-all-websites.onrender.com"]


@pytest.mark.parametrize(
    "path",
    [
        CARDEKHO.path,
        CARWALE.v1_path,
        "/admin/mg-digital-leads/source/zigwheels",
        "/Admin/MG-Digital-Leads/source/CarDekho",  # the routes take any case, so does this check
    ],
)
def test_a_bad_host_on_a_webhook_path_is_a_json_400(client, keys, path):
    response = client.post(
        path,
        json.dumps(dict(CARDEKHO.sample)),
        content_type="application/json",
        HTTP_HOST="evil.example",
        HTTP_X_API_KEY=keys["cardekho"],
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.content == b'{"error":"Invalid Host header"}'
    assert not Lead.objects.exists()
    delivery = Delivery.objects.get()
    assert (delivery.status_code, delivery.outcome, delivery.error) == (400, "rejected", "Invalid Host header")
    assert delivery.platform == (
        "" if path.endswith("zigwheels") else (CARWALE if "carwale" in path.lower() else CARDEKHO).name
    )


@override_settings(SECURE_SSL_REDIRECT=True)
def test_a_bad_host_is_refused_before_the_https_redirect(client):
    response = client.post(CARDEKHO.path, "{}", content_type="application/json", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid Host header"}


def test_our_host_still_reaches_the_webhook(post_lead):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), HTTP_HOST="raam-group-all-websites.onrender.com")

    assert response.status_code == 201


def test_a_bad_host_elsewhere_keeps_djangos_own_400(client):
    response = client.get("/admin/login/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/json")
