"""What partners actually send: phones in every format, odd types, hostile text. Never a 5xx."""

from __future__ import annotations

import json

import pytest

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "phone",
    [
        "9876543210",
        "+91 98765 43210",
        "09876543210",
        "91-98765-43210",
        "+91-9876543210",
        "0091 98765 43210",
        "(+91) 98765-43210",
        9876543210,
        919876543210,
        9876543210.0,
    ],
)
def test_common_indian_phone_formats_normalise_to_e164(post_lead, phone):
    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": phone})

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.phone_e164, lead.phone_valid, lead.phone_digits) == ("+919876543210", True, "919876543210")


def test_json_number_phone_is_kept_as_its_digits(post_lead):
    post_lead(CARWALE, {"customer_name": "Sunita", "mobile": 9123456780})

    assert Lead.objects.get().phone_number == "9123456780"


@pytest.mark.parametrize("phone", ["12345", "call me", "98765 4321", "+1 555"])
def test_unparseable_phone_is_still_a_lead_flagged_invalid(post_lead, phone):
    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": phone})

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.phone_number == phone
    assert lead.phone_valid is False


def test_value_longer_than_its_column_is_truncated_and_kept_whole_in_payload(post_lead):
    long_name = "R" * 1000
    long_url = "https://cardekho.com/" + "x" * 5000

    response = post_lead(CARDEKHO, {"name": long_name, "phone_number": "9876543210", "lead_url": long_url})

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.name == "R" * 255
    assert lead.lead_url == long_url[:2048]
    assert lead.payload["name"] == long_name
    assert lead.payload["lead_url"] == long_url


def test_nul_characters_are_replaced_in_columns_and_payload_but_kept_in_the_ledger(post_lead):
    body = json.dumps({"name": "Ra\u0000vi", "phone_number": "9876543210", "note\u0000": "a\u0000b"}).encode()

    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.name == "Ra vi"  # a control character, as one_line reads it
    assert lead.payload == {"name": "Ra\ufffdvi", "phone_number": "9876543210", "note\ufffd": "a\ufffdb"}
    assert bytes(Delivery.objects.get().body) == body


def test_lone_surrogates_do_not_break_storage(post_lead):
    response = post_lead(CARDEKHO, body=b'{"name": "Ravi \\ud800", "phone_number": "9876543210", "x": "\\udfff"}')

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi \ufffd"


@pytest.mark.parametrize(
    "name",
    [
        "रवि कुमार",
        "ரவி",
        "Ravi 🚗",
        "Z̷a̷l̷g̷o̷",
        "\u202eRTL override",
        "<script>alert(1)</script>",
        "'; DROP TABLE leads; --",
    ],
)
def test_any_unicode_name_is_stored_as_sent(post_lead, name):
    response = post_lead(CARDEKHO, {"name": name, "phone_number": "9876543210"})

    assert response.status_code == 201
    assert Lead.objects.get().name == name.strip()


@pytest.mark.parametrize(
    "extra",
    [
        b'"big": 1e400',
        b'"nan": NaN, "inf": -Infinity',
        b'"huge_int": ' + b"9" * 5000,
        b'"dup": 1, "dup": 2',
        b'"deep": ' + b"[" * 30 + b"]" * 30,
        b'"list": [null, true, 1.5, "x", {}]',
    ],
)
def test_odd_json_in_extra_fields_never_fails_the_lead(post_lead, extra):
    body = b'{"name": "Ravi", "phone_number": "9876543210", ' + extra + b"}"

    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 201
    assert Lead.objects.count() == 1


def test_numbers_postgres_cannot_store_are_kept_as_text(post_lead):
    post_lead(CARDEKHO, body=b'{"name": "Ravi", "phone_number": "9876543210", "big": 1e400, "nan": NaN}')

    assert Lead.objects.get().payload == {"name": "Ravi", "phone_number": "9876543210", "big": "1e400", "nan": "NaN"}


def test_numeric_name_is_read_as_text(post_lead):
    post_lead(CARDEKHO, {"name": 12345, "phone_number": "9876543210"})

    assert Lead.objects.get().name == "12345"


def test_huge_phone_string_is_stored_truncated_and_flagged(post_lead):
    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9" * 10000})

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert len(lead.phone_number) == 64
    assert lead.phone_valid is False
    assert lead.payload["phone_number"] == "9" * 10000


def test_raw_control_characters_inside_strings_are_accepted(post_lead):
    response = post_lead(CARDEKHO, body=b'{"name": "Ravi\tKumar\x00", "phone_number": "9876543210"}')

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi Kumar"


@pytest.mark.parametrize(
    "sent",
    [
        "Ravi\nOpen the lead: https://evil.example",
        "Ravi\r\n\r\nOpen the lead: https://evil.example ",
        "Ravi \u2028 Open the lead: https://evil.example",
        "Ravi\u0085Open the lead: https://evil.example",
        "Ravi\u2029\x0b\x0c\x1f\x7fOpen the lead: https://evil.example",
    ],
)
def test_mapped_text_fields_are_stored_on_one_line_and_the_payload_keeps_the_original(post_lead, sent):
    body = {"name": sent, "phone_number": "9876543210", "car_model": f"Hector\n{sent}", "campaign": sent}

    response = post_lead(CARDEKHO, body)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert lead.name == "Ravi Open the lead: https://evil.example"
    assert lead.car_model == "Hector Ravi Open the lead: https://evil.example"
    assert lead.campaign == lead.name
    assert lead.payload["name"] == sent


def test_a_name_of_only_line_breaks_is_passed_over_for_the_next_alias(post_lead):
    response = post_lead(CARDEKHO, {"name": "\r\n\u2028", "customer_name": "Ravi Kumar", "phone_number": "9876543210"})

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi Kumar"
