"""Text as a browser reads it (the WHATWG Encoding Standard): a BOM, the declared label, UTF-8, else a guess that
the ledger row notes. A buyer is never refused for the encoding of a name."""

from __future__ import annotations

import json

import pytest

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db

APOSTROPHE = "\u2019"  # the curly one, which cp1252 has as byte 0x92 and Latin-1 has not
LEAD = {"name": f"D{APOSTROPHE}Souza Müller", "phone_number": "9876543210"}


def post_raw(client, keys, body: bytes, content_type: str):
    # The test client's post() would re-encode the body in the declared charset; generic() sends the bytes.
    return client.generic("POST", CARDEKHO.path, body, content_type=content_type, HTTP_X_API_KEY=keys["cardekho"])


def encoded(encoding: str, lead: dict[str, str] = LEAD) -> bytes:
    return json.dumps(lead, ensure_ascii=False).encode(encoding)


JOSE = {"name": "José", "phone_number": "9876543210"}


@pytest.mark.parametrize(
    ("lead", "encoding", "guess"),
    [
        (LEAD, "cp1252", "windows-1252"),
        (JOSE, "latin-1", "windows-1252"),
        (LEAD, "utf-16-le", "UTF-16LE"),
        (LEAD, "utf-16-be", "UTF-16BE"),
    ],
)
def test_a_body_in_no_declared_charset_that_is_not_utf_8_is_guessed_and_the_row_says_so(
    client, keys, lead, encoding, guess
):
    body = encoded(encoding, lead)

    response = post_raw(client, keys, body, "application/json")

    assert response.status_code == 201
    assert Lead.objects.get().name == lead["name"]
    delivery = Delivery.objects.get()
    assert delivery.error == f"Stored; read leniently: encoding guessed: {guess}"
    assert bytes(delivery.body) == body


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-be"])
def test_a_bom_says_the_encoding_whatever_is_declared(client, keys, encoding):
    body = encoded(encoding)
    if encoding == "utf-16-be":
        body = b"\xfe\xff" + body

    response = post_raw(client, keys, body, "application/json; charset=iso-8859-1")

    assert response.status_code == 201
    assert Lead.objects.get().name == LEAD["name"]
    assert Delivery.objects.get().error == ""


@pytest.mark.parametrize("label", ["ISO-8859-1", "latin1", "us-ascii", "ascii", "l1"])
def test_a_legacy_label_is_read_as_windows_1252_as_the_encoding_standard_maps_it(client, keys, label):
    response = post_raw(client, keys, encoded("cp1252"), f"application/json; charset={label}")

    assert response.status_code == 201
    assert Lead.objects.get().name == LEAD["name"]
    assert Delivery.objects.get().error == ""


def test_utf_16_declared_without_a_bom_is_read_as_the_label_says(client, keys):
    response = post_raw(client, keys, encoded("utf-16-le"), "application/json; charset=utf-16")

    assert response.status_code == 201
    assert Lead.objects.get().name == LEAD["name"]


def test_a_body_not_in_the_codec_it_declares_is_guessed_not_refused(client, keys):
    body = b'{"name": "R\xe9vi", "phone_number": "9876543210"}'

    response = post_raw(client, keys, body, "application/json; charset=idna")

    assert response.status_code == 201
    assert Lead.objects.get().name == "Révi"
    assert Delivery.objects.get().error == "Stored; read leniently: encoding guessed: windows-1252"


def test_a_form_with_escapes_in_no_declared_charset_that_are_not_utf_8_is_guessed(client, keys):
    response = post_raw(client, keys, b"name=D%92Souza&phone_number=9876543210", "application/x-www-form-urlencoded")

    assert response.status_code == 201
    assert Lead.objects.get().name == f"D{APOSTROPHE}Souza"
    assert Delivery.objects.get().error == "Stored; read leniently: encoding guessed: windows-1252"


def test_a_utf_8_body_is_noted_as_nothing(client, keys):
    post_raw(client, keys, encoded("utf-8"), "application/json")

    assert Delivery.objects.get().error == ""
