"""PHP's multipart under a JSON Content-Type, and near-JSON: read when unambiguous, and noted on the ledger row."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO
from tests.servers import gunicorn, server_env

pytestmark = pytest.mark.django_db

# What PHP's curl sends for CURLOPT_POSTFIELDS => [...] with CURLOPT_HTTPHEADER => ['Content-Type: application/json']:
# a multipart body under the integrator's header, which has no boundary.
BOUNDARY = b"------------------------d74496d66958873e"


def php_multipart(fields: dict[str, str]) -> bytes:
    parts = [
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value.encode()
        for name, value in fields.items()
    ]
    return b"\r\n".join(parts) + b"\r\n--" + BOUNDARY + b"--\r\n"


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", ""])
def test_a_multipart_body_under_a_json_content_type_is_a_lead_and_noted(post_lead, content_type):
    body = php_multipart({"name": "Ravi Kumar", "phone_number": "9876543210", "city": "Pune"})

    response = post_lead(CARDEKHO, body=body, content_type=content_type)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Ravi Kumar", "+919876543210")
    assert lead.payload == {"name": "Ravi Kumar", "phone_number": "9876543210", "city": "Pune"}
    delivery = Delivery.objects.get()
    assert delivery.error.startswith("Stored; read leniently: a multipart body sent as ")
    assert bytes(delivery.body) == body


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=" + BOUNDARY.decode()])
def test_a_multipart_body_of_one_field_holding_a_json_object_is_that_object(post_lead, content_type):
    lead_json = json.dumps({"name": "Ravi Kumar", "phone_number": "9876543210"})

    response = post_lead(CARDEKHO, body=php_multipart({"lead": lead_json}), content_type=content_type)

    assert response.status_code == 201
    assert Lead.objects.get().payload == {"name": "Ravi Kumar", "phone_number": "9876543210"}
    assert "a JSON object inside a multipart field" in Delivery.objects.get().error


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "Ravi Kumar", "phone_number": "9876543210",}',
        b"{'name': 'Ravi Kumar', 'phone_number': '9876543210'}",
        b"{name: 'Ravi Kumar', phone_number: 9876543210, // a comment\n}",
    ],
)
def test_near_json_is_read_and_noted(post_lead, body):
    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Ravi Kumar", "+919876543210")
    delivery = Delivery.objects.get()
    assert delivery.error == "Stored; read leniently: near-JSON (a trailing comma, single quotes or the like)"
    assert bytes(delivery.body) == body


def test_near_json_with_a_key_given_twice_is_ambiguous_and_refused_as_malformed(post_lead):
    body = b"{'name': 'Ravi', 'name': 'Anil', 'phone_number': '9876543210',}"

    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON: ")
    assert bytes(Delivery.objects.get().body) == body


def test_a_long_body_is_not_read_as_near_json(post_lead):
    body = b'{"name": "Ravi", "phone_number": "9876543210", "notes": "' + b"x" * 9000 + b'",}'

    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON: ")


def test_strict_json_is_noted_as_nothing(post_lead):
    post_lead(CARDEKHO, dict(CARDEKHO.sample))

    assert Delivery.objects.get().error == ""


PYTHON_DICT_REPR = b"{'name': 'Asha', 'phone': '9876543210', 'consent': True, 'email': None}"
PYTHON_LITERAL_NOTE = "Stored; read leniently: near-JSON: a Python literal (True, False, None)"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_python_dict_repr_with_true_and_none_is_stored_and_noted_by_the_live_server():
    key = "near-json-live-cardekho-key"
    with gunicorn(server_env(LEAD_API_KEY_CARDEKHO=key)) as base:
        url = urlsplit(base)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {"Content-Type": "application/json", "X-API-Key": key, "X-Forwarded-Proto": "https"}
        connection.request("POST", CARDEKHO.path, body=PYTHON_DICT_REPR, headers=headers)
        response = connection.getresponse()
        status, answer = response.status, json.loads(response.read())
        connection.close()

    assert (status, answer["message"]) == (201, CARDEKHO.success_message)
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Asha", "+919876543210")
    assert lead.payload == {"name": "Asha", "phone": "9876543210", "consent": True, "email": None}
    delivery = Delivery.objects.get()
    assert delivery.error == PYTHON_LITERAL_NOTE
    assert bytes(delivery.body) == PYTHON_DICT_REPR


@pytest.mark.parametrize(
    "body",
    [
        b"{'name': 'Asha', 'name': 'Ravi', 'phone': '9876543210', 'ok': True}",  # a key twice: ambiguous
        b"{'name': 'Asha', 'phone': '9876543210', 'at': (1, 2), 'ok': True}",  # a tuple: no JSON says that
        b"{'name': 'Asha', 'phone': '9876543210', 1: True}",  # a key that is no text
        b"{'name': 'Asha', 'phone': __import__('os').getcwd()}",  # code, never run
    ],
    ids=["key-twice", "tuple", "number-key", "code"],
)
def test_a_python_literal_json_cannot_say_is_refused_as_malformed(post_lead, body):
    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 400
    assert response.json()["error"].startswith("Malformed JSON: ")
    assert Lead.objects.count() == 0
