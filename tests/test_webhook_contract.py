"""The guide's promises (§3, §4) that hold for every partner endpoint alike."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE, PARTNERS
from leads.reporting.queries import partner_reconciliation

pytestmark = pytest.mark.django_db

PARTNER_PARAMS = [pytest.param(p, id=p.slug) for p in PARTNERS]


@pytest.mark.parametrize("partner", PARTNER_PARAMS)
def test_guide_sample_request_gets_guide_success_response(post_lead, partner):
    response = post_lead(partner, dict(partner.sample))

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == f"{partner.name} lead inserted successfully"
    assert body["duplicate"] is False
    lead = Lead.objects.get()
    assert body["id"] == str(lead.public_id)
    assert lead.platform == partner.name
    assert lead.payload == dict(partner.sample)


@pytest.mark.parametrize("partner", PARTNER_PARAMS)
@pytest.mark.parametrize("suffix", ["", "/"])
def test_trailing_slash_is_optional_and_never_redirects(post_lead, partner, suffix):
    response = post_lead(partner, dict(partner.sample), path=partner.path + suffix)

    assert response.status_code == 201
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("partner", PARTNER_PARAMS)
def test_missing_key_is_401(post_lead, partner):
    response = post_lead(partner, dict(partner.sample), key=None)

    assert response.status_code == 401
    assert response.json() == {"error": "Missing API key"}
    assert "X-API-Key" in response["WWW-Authenticate"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("partner", PARTNER_PARAMS)
@pytest.mark.parametrize("blank", ["", "   "])
def test_empty_key_is_401(post_lead, partner, blank):
    response = post_lead(partner, dict(partner.sample), key=blank)

    assert response.status_code == 401
    assert response.json() == {"error": "Missing API key"}


@pytest.mark.parametrize("partner", PARTNER_PARAMS)
@pytest.mark.parametrize("wrong", ["nope", "raam_00000000_forged", "raam-digital-guess", "ключ"])
def test_wrong_key_is_403(post_lead, partner, wrong):
    response = post_lead(partner, dict(partner.sample), key=wrong)

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}
    assert not Lead.objects.exists()


def test_cardekho_key_on_carwale_endpoint_is_403(post_lead, keys):
    response = post_lead(CARWALE, dict(CARWALE.sample), key=keys[CARDEKHO.slug])

    assert response.status_code == 403
    assert response.json() == {"error": "Invalid API key"}
    assert not Lead.objects.exists()


def test_authentication_happens_before_the_body_is_read(post_lead):
    response = post_lead(CARDEKHO, body=b"{not json", key=None)

    assert response.status_code == 401
    assert response.json() == {"error": "Missing API key"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"phone_number": "9876543210"}, "Missing required fields: name"),
        ({"name": "Ravi"}, "Missing required fields: phone_number"),
        ({}, "Missing required fields: name, phone_number"),
        ({"name": None, "phone_number": None}, "Missing required fields: name, phone_number"),
        ({"name": "", "phone_number": "9876543210"}, "Missing required fields: name"),
        ({"name": "  \t\n", "phone_number": "9876543210"}, "Missing required fields: name"),
        ({"name": "Ravi", "phone_number": "   "}, "Missing required fields: phone_number"),
        ({"name": [], "phone_number": {"n": 1}}, "Missing required fields: name, phone_number"),
        ({"name": [None, " ", ["Ravi"]], "phone_number": [{"n": 1}]}, "Missing required fields: name, phone_number"),
        ({"name": True, "phone_number": False}, "Missing required fields: name, phone_number"),
    ],
)
def test_missing_required_fields_is_400_naming_them_in_order(post_lead, payload, message):
    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert not Lead.objects.exists()
    delivery = Delivery.objects.get()
    assert delivery.outcome == Delivery.Outcome.REJECTED
    assert json.loads(bytes(delivery.body)) == payload


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        # Not even near-JSON (a trailing comma is read: tests/test_webhook_near_json.py).
        (b'{"name": "Ravi" "phone_number": "1"}', "Malformed JSON: Expecting ',' delimiter at line 1 column 17"),
        (b"", "Request body is empty; send a JSON object"),
        # A UTF-16LE BOM, so one character, 絻, follows (tests/test_webhook_encodings.py reads other encodings).
        (b"\xff\xfe{}", "Malformed JSON: Expecting value at line 1 column 1"),
        (b"[]", "Request body must be a JSON object, not an array"),
        (b'"Ravi"', "Request body must be a JSON object, not a string"),
        (b"42", "Request body must be a JSON object, not a number"),
        (b"null", "Request body must be a JSON object, not null"),
        (b"true", "Request body must be a JSON object, not a boolean"),
        (b"[" * 5000 + b"]" * 5000, "JSON is nested more than 32 levels deep"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "JSON is nested more than 32 levels deep"),
    ],
)
def test_unreadable_body_is_400_saying_what_is_wrong(post_lead, body, message):
    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert not Lead.objects.exists()
    assert bytes(Delivery.objects.get().body) == body


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/json", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml"],
)
def test_a_json_object_is_a_lead_whatever_its_content_type(post_lead, content_type):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), content_type=content_type)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.payload == dict(CARDEKHO.sample)
    assert Delivery.objects.get().content_type == content_type


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=not-this-one"])
def test_a_body_that_is_no_json_object_and_not_declared_json_is_415_and_kept(post_lead, content_type):
    body = b"--x\r\nContent-Disposition: form-data; name=name\r\n\r\nRavi\r\n--x--"

    response = post_lead(CARDEKHO, body=body, content_type=content_type)

    media_type = content_type.split(";")[0]
    assert response.status_code == 415
    assert response.json() == {"error": f'Content-Type must be application/json, not "{media_type}"'}
    assert not Lead.objects.exists()
    delivery = Delivery.objects.get()
    assert (bytes(delivery.body), delivery.content_type) == (body, content_type)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.x+json"]
)
def test_json_content_types_are_accepted(post_lead, content_type):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), content_type=content_type)

    assert response.status_code == 201


def test_missing_content_type_is_read_as_json(client, keys):
    response = client.generic(
        "POST",
        CARDEKHO.path,
        json.dumps(dict(CARDEKHO.sample)).encode(),
        content_type="",
        HTTP_X_API_KEY=keys["cardekho"],
    )

    assert response.status_code == 201
    assert Lead.objects.count() == 1


def test_utf8_byte_order_mark_is_tolerated(post_lead):
    response = post_lead(CARDEKHO, body=b"\xef\xbb\xbf" + json.dumps(dict(CARDEKHO.sample)).encode())

    assert response.status_code == 201


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "options"])
def test_other_methods_are_405_with_allow(client, keys, method):
    response = getattr(client, method)(CARDEKHO.path, HTTP_X_API_KEY=keys["cardekho"])

    assert response.status_code == 405
    assert response.json() == {"error": f'Method "{method.upper()}" not allowed.'}
    assert response["Allow"] == "POST"
    assert Delivery.objects.get().outcome == Delivery.Outcome.REJECTED


def test_get_without_key_is_still_405(client):
    response = client.get(CARWALE.path)

    assert response.status_code == 405
    assert "POST" in response["Allow"]


@override_settings(LEAD_MAX_BODY_BYTES=2048, LEAD_LEDGER_BODY_BYTES=100)
def test_body_over_the_limit_is_413_and_its_start_is_kept(post_lead):
    payload = {**CARDEKHO.sample, "notes": "x" * 3000}

    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 413
    assert response.json() == {"error": "Request body is larger than the 2048-byte limit"}
    assert not Lead.objects.exists()
    delivery = Delivery.objects.get()
    assert bytes(delivery.body) == json.dumps(payload).encode()[:100]
    assert delivery.body_truncated


def test_default_body_limit_is_64_kib(post_lead):
    padding = "x" * (64 * 1024)

    response = post_lead(CARDEKHO, {**CARDEKHO.sample, "notes": padding})

    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/admin/mg-digital-leads/source/olx",
        "/admin/mg-digital-leads/source/olx/",
        "/admin/mg-digital-leads/source/",
        "/admin/mg-digital-leads/source/a/b",
    ],
)
def test_unknown_partner_is_json_404(client, path):
    response = client.post(path, data="{}", content_type="application/json")

    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert response.json()["error"].startswith("Unknown partner")
    assert Delivery.objects.get().platform == ""
    assert "Allow" not in response  # nothing is allowed here, OPTIONS included


@pytest.mark.parametrize(
    "path",
    [
        "/Admin/MG-Digital-Leads/source/cardekho",
        "/V1/Leads/CarDekho/",
        "/admin/mg-digital-leads/source/cardekho//",
    ],
)
def test_the_endpoint_written_in_another_case_or_with_a_doubled_slash_takes_the_lead(post_lead, path):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), path=path)

    assert response.status_code == 201
    assert Lead.objects.get().platform == "CarDekho"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/mg-digital-lead/source/cardekho",  # the admin's routes: its CSRF check would answer
        "/admin/leads/lead/add/",
        "/admn/mg-digital-leads/source/cardekho",  # no route at all: Django's 404 page would answer
    ],
)
def test_a_lead_sent_to_a_path_that_is_no_endpoint_gets_a_json_404_and_a_ledger_row(path):
    # Not the admin's HTML CSRF refusal (a browser's check, which the test client skips unless asked),
    # a 403 that reads like a bad key.
    partner = Client(enforce_csrf_checks=True)

    response = partner.post(
        path, data=json.dumps(dict(CARDEKHO.sample)), content_type="application/json", HTTP_X_API_KEY="any-key"
    )
    without_key = partner.post(path, data="{}", content_type="application/json")

    assert response.status_code == 404
    assert response.json() == {
        "error": f"No lead endpoint at {path}; leads go to /admin/mg-digital-leads/source/<partner>"
    }
    assert Delivery.objects.get().status_code == 404
    assert not Lead.objects.exists()
    # Without a key it is no partner's lead: the admin (or Django's 404 page) answers as it always did.
    assert without_key.status_code in (403, 404) and "error" not in without_key.content.decode()
    assert Delivery.objects.count() == 1


def test_every_request_leaves_one_delivery_row(post_lead):
    post_lead(CARDEKHO, dict(CARDEKHO.sample))
    post_lead(CARDEKHO, dict(CARDEKHO.sample))
    post_lead(CARDEKHO, dict(CARDEKHO.sample), key="wrong")
    post_lead(CARDEKHO, dict(CARDEKHO.sample), key=None)
    post_lead(CARDEKHO, {"name": "x"})

    outcomes = list(Delivery.objects.order_by("id").values_list("outcome", "status_code"))
    assert outcomes == [
        ("created", 201),
        ("duplicate", 201),
        ("unauthorised", 403),
        ("unauthorised", 401),
        ("rejected", 400),
    ]


def test_successful_delivery_records_prefix_ip_latency_and_body_but_never_the_key(post_lead, cardekho_key):
    body = json.dumps(dict(CARDEKHO.sample)).encode()

    post_lead(CARDEKHO, body=body, REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9")

    delivery = Delivery.objects.get()
    assert delivery.key_prefix == cardekho_key.api_key.prefix
    assert delivery.client_ip == "203.0.113.9"
    assert delivery.lead == Lead.objects.get()
    assert delivery.latency_ms >= 0
    assert bytes(delivery.body) == body
    stored = [str(v) for v in Delivery.objects.values_list("key_prefix", "error", "request_id").get()]
    assert all(cardekho_key.secret not in value for value in stored)


def test_failed_authentication_does_not_store_the_body(post_lead):
    post_lead(CARDEKHO, dict(CARDEKHO.sample), key="raam_abcdef12_guess")

    delivery = Delivery.objects.get()
    assert delivery.key_prefix == "abcdef12"
    assert bytes(delivery.body) == b""


def test_response_carries_our_request_id_and_the_ledger_keeps_the_partners_as_theirs(post_lead):
    response = post_lead(CARDEKHO, dict(CARDEKHO.sample), HTTP_X_REQUEST_ID="partner-req-12345")

    delivery = Delivery.objects.get()
    assert re.fullmatch("[0-9a-f]{32}", response["X-Request-ID"])
    assert (delivery.request_id, delivery.partner_request_id) == (response["X-Request-ID"], "partner-req-12345")
    assert not delivery.is_replay


def test_a_partner_sending_a_replays_request_id_is_counted_like_any_delivery(post_lead):
    first = post_lead(CARDEKHO, dict(CARDEKHO.sample))
    forged = f"replay-of-{Delivery.objects.get().pk}"

    resent = post_lead(CARDEKHO, dict(CARDEKHO.sample), HTTP_X_REQUEST_ID=forged)

    assert (first.status_code, resent.status_code, resent.json()["duplicate"]) == (201, 201, True)
    duplicate = Delivery.objects.get(outcome=Delivery.Outcome.DUPLICATE)
    assert (duplicate.partner_request_id, duplicate.is_replay) == (forged, False)
    assert Delivery.objects.from_partners().count() == 2
    (cardekho,) = [row for row in partner_reconciliation(month=timezone.localdate()) if row.platform == "CarDekho"]
    assert (cardekho.leads, cardekho.duplicates) == (1, 1)


def test_request_log_line_masks_the_phone(post_lead, caplog):
    with caplog.at_level("INFO", logger="leads.intake.store"):
        post_lead(CARDEKHO, dict(CARDEKHO.sample))

    (record,) = [r for r in caplog.records if r.name == "leads.intake.store"]
    assert record.partner == "CarDekho"
    assert record.status == 201
    assert record.phone == "+9*********10"
    assert "9876543210" not in caplog.text


def test_invalid_attempt_logs_a_warning(post_lead, caplog):
    with caplog.at_level("INFO", logger="leads.intake.store"):
        post_lead(CARDEKHO, dict(CARDEKHO.sample), key="wrong")

    (record,) = [r for r in caplog.records if r.name == "leads.intake.store"]
    assert record.levelname == "WARNING"
    assert record.status == 403
