"""Bodies as partners' HTTP clients send them: form fields, gzip and deflate, and what is still refused."""

from __future__ import annotations

import gzip
import json
import zlib
from urllib.parse import urlencode

import pytest

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

SAMPLE = json.dumps(dict(CARDEKHO.sample)).encode()


def test_form_fields_are_a_lead_through_the_same_aliases(post_lead):
    body = urlencode({"customer_name": "Sunita Rao", "mobile": "9123456780", "utm": "a"}).encode()

    response = post_lead(CARWALE, body=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Sunita Rao", "+919123456780")
    assert lead.payload == {"customer_name": "Sunita Rao", "mobile": "9123456780", "utm": "a"}


def test_a_form_field_sent_twice_is_kept_as_a_list(post_lead):
    body = b"name=Ravi&phone_number=9876543210&interest=Hector&interest=Astor"

    post_lead(CARDEKHO, body=body, content_type="application/x-www-form-urlencoded; charset=utf-8")

    assert Lead.objects.get().payload["interest"] == ["Hector", "Astor"]


def test_a_required_form_field_sent_twice_is_read_from_its_first_usable_value(post_lead):
    # A form builder's hidden default beside the field the buyer filled in, say.
    body = b"name=&name=Ravi+Kumar&phone_number=9876543210&phone_number=9123456780"

    response = post_lead(CARDEKHO, body=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Ravi Kumar", "+919876543210")
    assert lead.payload["phone_number"] == ["9876543210", "9123456780"]


def test_a_json_array_stands_for_its_first_usable_value_and_an_empty_one_falls_through(post_lead):
    payload = {"name": [], "customer_name": "Sunita Rao", "phone_number": [None, 9123456780]}

    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Sunita Rao", "+919123456780")
    assert lead.payload == payload


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("x-gzip", gzip.compress)],
)
def test_compressed_bodies_are_decoded_and_kept_as_sent(post_lead, encoding, encode):
    body = encode(SAMPLE)

    response = post_lead(CARDEKHO, body=body, HTTP_CONTENT_ENCODING=encoding)

    assert response.status_code == 201
    assert Lead.objects.get().payload == dict(CARDEKHO.sample)
    delivery = Delivery.objects.get()
    assert (bytes(delivery.body), delivery.content_encoding) == (body, encoding)


def test_a_gzip_bomb_is_413_without_inflating_it(post_lead, settings):
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert len(bomb) < settings.LEAD_MAX_BODY_BYTES

    response = post_lead(CARDEKHO, body=bomb, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert response.json() == {
        "error": f"Decoded request body is larger than the {settings.LEAD_MAX_BODY_BYTES}-byte limit"
    }
    assert not Lead.objects.exists()
    assert bytes(Delivery.objects.get().body) == bomb


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not gzip at all", "Request body is not valid gzip data"),
        (gzip.compress(SAMPLE)[:-12], "Request body is not valid gzip data: it ends too soon"),
    ],
)
def test_broken_gzip_is_400_saying_so(post_lead, body, message):
    response = post_lead(CARDEKHO, body=body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert bytes(Delivery.objects.get().body) == body


def test_an_encoding_we_cannot_read_is_415_and_kept(post_lead):
    response = post_lead(CARDEKHO, body=b"\x28\xb5\x2f\xfd", HTTP_CONTENT_ENCODING="zstd")

    assert response.status_code == 415
    assert response.json() == {"error": 'Content-Encoding must be gzip or deflate, not "zstd"'}
    assert Delivery.objects.get().content_encoding == "zstd"


def test_an_empty_form_body_is_400_empty_like_any_empty_body(post_lead):
    response = post_lead(CARDEKHO, body=b"", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json() == {"error": "Request body is empty; send a JSON object"}
