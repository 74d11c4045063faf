"""Bodies as partners' HTTP clients send them: form fields, gzip and deflate, and what is still refused."""

from __future__ import annotations

import gzip
import json
import time
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


def test_a_bare_deflate_stream_some_clients_send_as_deflate_is_a_lead(post_lead):
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # no zlib header: raw deflate
    body = squeezer.compress(SAMPLE) + squeezer.flush()

    response = post_lead(CARDEKHO, body=body, HTTP_CONTENT_ENCODING="deflate")

    assert response.status_code == 201, response.content
    assert Lead.objects.get().payload == dict(CARDEKHO.sample)


def test_a_bare_deflate_stream_sent_as_gzip_is_still_refused_as_not_gzip(post_lead):
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = squeezer.compress(SAMPLE) + squeezer.flush()

    response = post_lead(CARDEKHO, body=body, HTTP_CONTENT_ENCODING="gzip")

    assert (response.status_code, response.json()) == (400, {"error": "Request body is not valid gzip data"})
    assert not Lead.objects.exists()
    assert bytes(Delivery.objects.get().body) == body  # kept for replay


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


@pytest.mark.parametrize("content_type", ["application/json", "", "text/plain"])
def test_form_fields_sent_under_another_content_type_are_still_a_lead(post_lead, content_type):
    # requests' data= with a hand-set JSON header sends exactly this.
    body = b"name=Ravi+Kumar&phone_number=9876543210&city=Pune&"

    response = post_lead(CARDEKHO, body=body, content_type=content_type)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Ravi Kumar", "+919876543210")
    assert lead.payload == {"name": "Ravi Kumar", "phone_number": "9876543210", "city": "Pune"}


def post_raw(client, keys, body: bytes, content_type: str):
    # The test client's post() would re-encode the body in the declared charset; generic() sends the bytes.
    return client.generic("POST", CARDEKHO.path, body, content_type=content_type, HTTP_X_API_KEY=keys["cardekho"])


@pytest.mark.parametrize(
    ("charset", "name"), [("iso-8859-1", "José"), ("windows-1252", "“Ravi” Kumar"), ("UTF-16", "José")]
)
def test_a_json_body_in_the_charset_it_declares_is_read_in_it(client, keys, charset, name):
    body = json.dumps({"name": name, "phone_number": "9876543210"}, ensure_ascii=False).encode(charset)

    response = post_raw(client, keys, body, f"application/json; charset={charset}")

    assert response.status_code == 201
    assert Lead.objects.get().name == name
    assert bytes(Delivery.objects.get().body) == body


def test_a_body_that_is_utf_8_is_read_as_utf_8_whatever_charset_it_declares(client, keys):
    body = '{"name": "José", "phone_number": "9876543210"}'.encode()

    post_raw(client, keys, body, "application/json; charset=ISO-8859-1")

    assert Lead.objects.get().name == "José"


def test_a_form_in_latin_1_keeps_its_accents(client, keys):
    post_raw(client, keys, b"name=Jos%E9&phone_number=9876543210", "application/x-www-form-urlencoded; charset=latin-1")

    assert Lead.objects.get().name == "José"


@pytest.mark.parametrize("encoding", ["UTF-8", "gzip", "deflate"])
def test_a_content_encoding_that_does_not_fit_a_readable_body_is_set_aside(post_lead, encoding):
    response = post_lead(CARDEKHO, body=SAMPLE, HTTP_CONTENT_ENCODING=encoding)

    assert response.status_code == 201
    assert Lead.objects.get().payload == dict(CARDEKHO.sample)
    assert Delivery.objects.get().content_encoding == encoding


@pytest.mark.parametrize("path", ["/admin/mg-digital-leads/source/CarDekho", "/v1/leads/CARDEKHO/"])
def test_the_partner_in_the_path_is_read_in_any_case(post_lead, path):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), path=path)

    assert response.status_code == 201
    assert Lead.objects.get().platform == CARDEKHO.name


def test_a_multipart_form_is_a_lead_through_the_same_aliases_and_its_files_are_left_out(client, keys):
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="customer_name"\r\n\r\n'
        b"Sunita Rao\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="mobile"\r\n\r\n'
        b"9123456780\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="city"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n'
        b"Bel\xe9m\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="brochure"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        b"%PDF-1.4\r\n"
        b"--b0undary--\r\n"
    )

    response = client.generic(
        "POST",
        CARWALE.path,
        body,
        content_type="multipart/form-data; boundary=b0undary",
        HTTP_X_API_KEY=keys["carwale"],
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164) == ("Sunita Rao", "+919123456780")
    assert lead.payload == {"customer_name": "Sunita Rao", "mobile": "9123456780", "city": "Belém"}
    assert bytes(Delivery.objects.get().body) == body


@pytest.mark.parametrize("charset", ["base64", "rot13", "hex", "zlib", "no-such-charset"])
@pytest.mark.parametrize("media_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_charset_that_is_no_text_encoding_is_ignored_not_a_500(client, keys, charset, media_type):
    form, json_body = b"name=Jos%E9&phone_number=9876543210", b'{"name": "Ravi", "phone_number": 9876543210}'
    body = form if "form" in media_type else json_body

    response = post_raw(client, keys, body, f"{media_type}; charset={charset}")

    assert response.status_code == 201
    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "part_head",
    [
        b'Content-Disposition: form-data; name="city"\r\nContent-Type: text/plain; charset=base64',
        b'Content-Disposition: form-data; name="city"\r\nContent-Type: text/plain; charset=bogus',
        b"Content-Disposition: form-data; name*=utf-8''\x00city",
        b"Content-Disposition: form-data; name=",
        b"Content-Type: text/plain; charset=\x00",
    ],
)
def test_a_mangled_multipart_part_never_gives_a_500(client, keys, part_head):
    body = (
        b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n'
        b'--b\r\nContent-Disposition: form-data; name="phone_number"\r\n\r\n9876543210\r\n'
        b"--b\r\n" + part_head + b"\r\n\r\nBel\xe9m\r\n--b--\r\n"
    )

    response = post_raw(client, keys, body, "multipart/form-data; boundary=b")

    assert response.status_code in (201, 415)
    assert response.json()


@pytest.mark.parametrize("declared", ["abc", "-5", "12 "])
def test_a_content_length_that_is_no_number_is_a_clear_400(post_lead, declared):
    # gunicorn refuses such a request itself; Django's development server passes it on, and reading the
    # body would raise in Django.
    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"}, CONTENT_LENGTH=declared)

    assert response.status_code == 400
    assert response.json() == {"error": f"Content-Length must be a number of bytes, not {declared!r}"}
    assert Delivery.objects.get().status_code == 400


def test_a_json_object_encoded_twice_is_still_the_lead(post_lead):
    # json.dumps(json.dumps(lead)): the sender's slip, and still a buyer.
    body = json.dumps(json.dumps({"name": "Ravi", "phone_number": "9876543210"})).encode()

    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 201
    assert Lead.objects.get().phone_e164 == "+919876543210"


def test_a_plain_form_with_a_spaced_field_name_is_a_lead_whatever_its_content_type(post_lead):
    body = b"name=Ravi&phone_number=9876543210&utm+source=google"

    response = post_lead(CARDEKHO, body=body, content_type="text/plain")

    assert response.status_code == 201
    assert Lead.objects.get().payload["utm source"] == "google"


def nested_multipart(depth: int, *, size: int | None = None) -> bytes:
    """A form whose first field is a multipart holding a multipart... ``depth`` levels down, padded to ``size``."""
    body = b'--b%d\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n--b%d--\r\n' % (depth, depth)
    for level in range(depth - 1, -1, -1):
        head = b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n" % (level, level + 1)
        body = head + b'Content-Disposition: form-data; name="x"\r\n\r\n' + body + b"\r\n--b%d--\r\n" % level
    return body if size is None else (body + b" " * size)[:size]


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=b0", "application/json"])
def test_a_nested_64_kib_multipart_is_refused_fast_and_its_body_kept(client, keys, content_type):
    body = nested_multipart(600, size=64 * 1024)

    started = time.process_time()
    response = post_raw(client, keys, body, content_type)
    cpu = time.process_time() - started

    print(f"nested 64 KiB multipart ({content_type}): {response.status_code} in {cpu * 1000:.0f} ms of CPU")
    assert response.status_code == 400
    assert response.json() == {"error": "A multipart body may nest at most 2 levels deep"}
    delivery = Delivery.objects.get()
    assert (bytes(delivery.body), delivery.body_truncated, delivery.status_code) == (body, False, 400)
    assert not Lead.objects.exists()


def test_a_multipart_of_too_many_parts_is_413_with_its_body_kept(client, keys):
    fields = b"".join(b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % n for n in range(300))
    body = b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n' + fields + b"--b--\r\n"

    response = post_raw(client, keys, body, "multipart/form-data; boundary=b")

    assert response.status_code == 413
    assert response.json() == {"error": "A multipart body may hold at most 200 parts"}
    assert bytes(Delivery.objects.get().body) == body


def test_a_form_with_one_nested_multipart_of_files_is_still_a_lead(client, keys):
    body = (
        b'--b0\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n'
        b'--b0\r\nContent-Disposition: form-data; name="phone_number"\r\n\r\n9876543210\r\n'
        b'--b0\r\nContent-Disposition: form-data; name="files"\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n'
        b'--b1\r\nContent-Disposition: file; filename="a.txt"\r\n\r\nhello\r\n--b1--\r\n'
        b"\r\n--b0--\r\n"
    )

    response = post_raw(client, keys, body, "multipart/form-data; boundary=b0")

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi"


def test_a_form_with_two_multiparts_of_files_side_by_side_is_still_a_lead(client, keys):
    files = b"".join(
        b'--b0\r\nContent-Disposition: form-data; name="files%d"\r\nContent-Type: multipart/mixed; boundary=f%d\r\n\r\n'
        b'--f%d\r\nContent-Disposition: file; filename="a.txt"\r\n\r\nhello\r\n--f%d--\r\n\r\n' % (n, n, n, n)
        for n in range(2)
    )
    body = (
        b'--b0\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n'
        b'--b0\r\nContent-Disposition: form-data; name="phone_number"\r\n\r\n9876543210\r\n' + files + b"--b0--\r\n"
    )

    response = post_raw(client, keys, body, "multipart/form-data; boundary=b0")

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi"


def test_a_form_with_too_many_multiparts_side_by_side_is_413_with_its_body_kept(client, keys):
    files = b"".join(
        b'--b0\r\nContent-Disposition: form-data; name="f%d"\r\nContent-Type: multipart/mixed; boundary=f%d\r\n\r\n'
        b"--f%d--\r\n\r\n" % (n, n, n)
        for n in range(21)
    )
    body = b'--b0\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n' + files + b"--b0--\r\n"

    response = post_raw(client, keys, body, "multipart/form-data; boundary=b0")

    assert response.status_code == 413
    assert response.json() == {"error": "A multipart body may hold at most 20 multiparts"}
    assert bytes(Delivery.objects.get().body) == body
