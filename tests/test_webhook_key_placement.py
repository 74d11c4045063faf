"""The key where integrators put it: other headers and a Bearer scheme read as X-API-Key; a key in the URL refused."""

from __future__ import annotations

import json

import pytest

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

SAMPLE = dict(CARDEKHO.sample)
KEY_IN_URL = "API key sent in the URL; send it in the X-API-Key header instead (URLs end up in logs)"


@pytest.mark.parametrize(
    ("header", "form"),
    [
        ("HTTP_AUTHORIZATION", "Bearer {key}"),
        ("HTTP_AUTHORIZATION", "bearer   {key}"),
        ("HTTP_AUTHORIZATION", "{key}"),
        ("HTTP_API_KEY", "{key}"),
        ("HTTP_X_API_KEY", "Bearer {key}"),
    ],
)
def test_a_key_in_another_header_or_after_bearer_is_the_key(post_lead, keys, header, form):
    response = post_lead(CARDEKHO, SAMPLE, key=None, **{header: form.format(key=keys["cardekho"])})

    assert response.status_code == 201
    assert Lead.objects.get().platform == CARDEKHO.name


@pytest.mark.parametrize("header", ["HTTP_AUTHORIZATION", "HTTP_API_KEY"])
def test_the_other_partners_key_in_another_header_is_403(post_lead, keys, header):
    response = post_lead(CARWALE, dict(CARWALE.sample), key=None, **{header: f"Bearer {keys['cardekho']}"})

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}
    assert not Lead.objects.exists()


@pytest.mark.parametrize("value", ["", "Bearer", "Bearer   "])
def test_an_empty_authorization_header_is_a_missing_key(post_lead, value):
    response = post_lead(CARDEKHO, SAMPLE, key=None, HTTP_AUTHORIZATION=value)

    assert response.status_code == 401
    assert response.json() == {"error": "Missing API key"}


@pytest.mark.parametrize("name", ["api_key", "key", "x-api-key", "apiKey", "X_API_KEY"])
def test_a_key_in_the_url_is_401_saying_to_send_it_as_the_header_and_its_body_is_kept(post_lead, keys, name):
    response = post_lead(CARDEKHO, SAMPLE, key=None, path=f"{CARDEKHO.path}?{name}={keys['cardekho']}")

    assert response.status_code == 401
    assert response.json() == {"error": KEY_IN_URL}
    assert "X-API-Key" in response["WWW-Authenticate"]
    assert not Lead.objects.exists()
    delivery = Delivery.objects.get()
    assert (delivery.status_code, delivery.error) == (401, KEY_IN_URL)
    assert json.loads(bytes(delivery.body)) == SAMPLE


def test_a_key_in_the_url_beside_one_in_the_header_is_read_from_the_header(post_lead, keys):
    response = post_lead(CARDEKHO, SAMPLE, path=f"{CARDEKHO.path}?api_key=whatever")

    assert response.status_code == 201


def test_other_query_parameters_are_no_key(post_lead):
    response = post_lead(CARDEKHO, SAMPLE, key=None, path=f"{CARDEKHO.path}?utm_source=x")

    assert (response.status_code, response.json()) == (401, {"error": "Missing API key"})
