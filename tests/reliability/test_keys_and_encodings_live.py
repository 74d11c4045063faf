"""Issue "Nothing lost, part 2", against the server as render.yaml starts it: the key where integrators put it,
encodings as a browser reads them, and PHP's multipart under a JSON Content-Type."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE
from tests.servers import gunicorn, server_env

KEYS = {"LEAD_API_KEY_CARDEKHO": "part-two-cardekho-key", "LEAD_API_KEY_CARWALE": "part-two-carwale-key"}
CARDEKHO_KEY = KEYS["LEAD_API_KEY_CARDEKHO"]
APOSTROPHE = "\u2019"  # the curly one: byte 0x92 in windows-1252, which Latin-1 reads as a control character
NAME = f"D{APOSTROPHE}Souza"


def post(base: str, path: str, body: bytes, **headers: str) -> tuple[int, dict]:
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"X-Forwarded-Proto": "https", **headers})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def lead_in(encoding: str, phone: str) -> bytes:
    return json.dumps({"name": NAME, "phone_number": phone}, ensure_ascii=False).encode(encoding)


def test_a_bearer_key_is_accepted_for_its_own_partner_and_403_for_the_other():
    body = json.dumps(dict(CARDEKHO.sample)).encode()
    bearer = {"Content-Type": "application/json", "Authorization": f"Bearer {CARDEKHO_KEY}"}
    with gunicorn(server_env(**KEYS)) as base:
        own = post(base, CARDEKHO.path, body, **bearer)
        other = post(base, CARWALE.path, body, **bearer)

    assert own[0] == 201
    assert other == (403, {"error": "Invalid API key"})
    assert list(Lead.objects.values_list("platform", flat=True)) == [CARDEKHO.name]


def test_cp1252_with_no_charset_utf_16_with_a_bom_and_cp1252_labelled_iso_8859_1_store_the_name_right():
    key = {"X-API-Key": CARDEKHO_KEY}
    with gunicorn(server_env(**KEYS)) as base:
        answers = [
            post(base, CARDEKHO.path, lead_in("cp1252", "9000000001"), **{"Content-Type": "application/json"}, **key),
            post(base, CARDEKHO.path, lead_in("utf-16", "9000000002"), **{"Content-Type": "application/json"}, **key),
            post(
                base,
                CARDEKHO.path,
                lead_in("cp1252", "9000000003"),
                **{"Content-Type": "application/json; charset=ISO-8859-1"},
                **key,
            ),
        ]

    assert [status for status, _ in answers] == [201, 201, 201]
    names = dict(Lead.objects.values_list("phone_number", "name"))
    assert names == {"9000000001": NAME, "9000000002": NAME, "9000000003": NAME}
    guessed = Delivery.objects.get(lead__phone_number="9000000001")
    assert guessed.error == "Stored; read leniently: encoding guessed: windows-1252"


def test_a_php_multipart_body_under_a_json_content_type_is_stored():
    boundary = "------------------------d74496d66958873e"
    fields = {"customer_name": "Sunita Rao", "mobile": "9123456780"}
    body = (
        "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items())
        + f"--{boundary}--\r\n"
    ).encode()
    headers = {"Content-Type": "application/json", "X-API-Key": KEYS["LEAD_API_KEY_CARWALE"]}
    with gunicorn(server_env(**KEYS)) as base:
        status, answer = post(base, CARWALE.path, body, **headers)

    assert (status, answer["message"]) == (201, CARWALE.success_message)
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Sunita Rao", "+919123456780")
    assert bytes(Delivery.objects.get().body) == body
