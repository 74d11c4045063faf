"""Leads as integrators really send them (issue 24, items 1 and 3): wrapped in an object, as PHP form keys,
with the phone as an object, and with field names in another case or style."""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from django.core.management import call_command

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

RAVI = {"name": "Ravi Kumar", "phone_number": "9876543210"}


@pytest.mark.parametrize("wrapper", ["lead", "data", "enquiry", "customer", "contact", "Lead", "DATA"])
def test_a_lead_wrapped_in_an_object_is_stored_with_its_payload_as_sent(post_lead, wrapper):
    payload = {wrapper: {**RAVI, "car_model": "Hector"}, "utm_source": "ads"}

    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164, lead.car_model) == ("Ravi Kumar", "+919876543210", "Hector")
    assert lead.payload == payload


def test_a_lead_in_a_list_of_one_under_a_wrapper_is_stored(post_lead):
    response = post_lead(CARWALE, {"data": [{"customer_name": "Sunita Rao", "mobile": "9123456780"}]})

    assert response.status_code == 201
    assert Lead.objects.get().name == "Sunita Rao"


def test_the_bodys_own_fields_come_before_the_wrappers(post_lead):
    response = post_lead(
        CARDEKHO,
        {"name": "Ravi Kumar", "campaign": "Top", "lead": {"phone": "9876543210", "name": "X", "campaign": "Inner"}},
    )

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_number, lead.campaign) == ("Ravi Kumar", "9876543210", "Top")


@pytest.mark.parametrize(
    "payload",
    [
        {"lead": [RAVI, RAVI]},  # a batch is not a wrapper
        {"leads": {"x": RAVI}},  # two levels down
        {"payload": RAVI},  # not a wrapper's name
    ],
)
def test_only_one_level_into_a_single_object_under_a_wrapper_is_read(post_lead, payload):
    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 400
    assert response.json() == {"error": "Missing required fields: name, phone_number"}


def test_php_form_keys_are_read_as_their_nesting(post_lead):
    form = urlencode({"lead[name]": "Ravi Kumar", "data[phone_number]": "9876543210", "lead[car_model]": "Hector"})

    response = post_lead(CARDEKHO, body=form.encode(), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_number, lead.car_model) == ("Ravi Kumar", "9876543210", "Hector")
    assert lead.payload == {"lead[name]": "Ravi Kumar", "data[phone_number]": "9876543210", "lead[car_model]": "Hector"}


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ({"number": "9876543210", "country_code": "91"}, "+919876543210"),
        ({"number": "9876543210", "country_code": "+91"}, "+919876543210"),
        ({"phone": 9876543210, "code": 91}, "+919876543210"),
        ({"mobile": "98765 43210", "dial_code": "+91"}, "+919876543210"),
        ({"number": "+919876543210", "country_code": "91"}, "+919876543210"),
        ({"number": "9876543210", "country_code": "IN"}, "+919876543210"),
        ({"Number": "9876543210"}, "+919876543210"),
    ],
)
def test_a_phone_sent_as_an_object_is_read(post_lead, phone, e164):
    payload = {"name": "Ravi Kumar", "phone": phone}

    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.phone_e164, lead.phone_valid) == (e164, True)
    assert lead.payload == payload


def test_a_phone_object_inside_a_wrapper_and_as_php_keys(post_lead):
    form = urlencode({"lead[name]": "Ravi Kumar", "lead[phone][number]": "9876543210", "lead[phone][code]": "91"})

    response = post_lead(CARDEKHO, body=form.encode(), content_type="application/x-www-form-urlencoded")

    assert response.status_code == 201
    assert Lead.objects.get().phone_e164 == "+919876543210"


@pytest.mark.parametrize(
    ("payload", "name", "phone"),
    [
        ({"Name": "Ravi Kumar", "Phone_Number": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"NAME": "Ravi Kumar", "PHONE": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"CustomerName": "Ravi Kumar", "Mobile": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"customer-name": "Ravi Kumar", "phone number": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "phoneNumber": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "PHONE-NUMBER": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "mobile_no": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "Mobile No.": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "mobile_number": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "contact_no": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"name": "Ravi Kumar", "customer_mobile": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"full_name": "Ravi Kumar", "phone": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"first_name": "Ravi", "last_name": "Kumar", "phone": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"fname": "Ravi", "lname": "Kumar", "phone": "9876543210"}, "Ravi Kumar", "9876543210"),
        ({"FirstName": "Ravi", "phone": "9876543210"}, "Ravi", "9876543210"),
        ({"name": "Ravi Kumar", "first_name": "R", "phone": "9876543210"}, "Ravi Kumar", "9876543210"),
    ],
)
def test_field_names_are_matched_ignoring_case_and_separators(post_lead, payload, name, phone):
    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_number) == (name, phone)
    assert lead.payload == payload


def test_every_field_is_matched_ignoring_case(post_lead):
    payload = {
        "Customer_Name": "Sunita Rao",
        "MOBILE": "9123456780",
        "VehicleModel": "Creta",
        "Page-URL": "https://carwale.com/lead/456",
        "Campaign": "Test Drive",
        "LeadID": "cw-1",
    }

    response = post_lead(CARWALE, payload)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.car_model, lead.lead_url, lead.campaign, lead.partner_lead_id) == (
        "Creta",
        "https://carwale.com/lead/456",
        "Test Drive",
        "cw-1",
    )


def test_the_exact_spelling_comes_before_another_case_of_it(post_lead):
    response = post_lead(CARDEKHO, {"NAME": "Shouted", "name": "Ravi Kumar", "phone": "9876543210"})

    assert response.status_code == 201
    assert Lead.objects.get().name == "Ravi Kumar"


def test_the_guides_aliases_keep_their_priority_over_the_common_spellings(post_lead):
    response = post_lead(CARWALE, {"customer_name": "Sunita", "mobile_no": "9000000000", "phone": "9123456780"})

    assert response.status_code == 201
    assert Lead.objects.get().phone_number == "9123456780"


def test_an_added_alias_is_matched_ignoring_case_and_separators(post_lead):
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_cell", stdout=io.StringIO())

    response = post_lead(CARWALE, {"customer_name": "Sunita", "Buyer-Cell": "9123456780"})

    assert response.status_code == 201
    assert Lead.objects.get().phone_number == "9123456780"


def test_a_name_without_a_phone_is_still_refused_and_kept(post_lead):
    response = post_lead(CARDEKHO, {"First_Name": "Ravi", "lead": {"city": "Pune"}})

    assert response.status_code == 400
    assert response.json() == {"error": "Missing required fields: phone_number"}
    assert json.loads(bytes(Delivery.objects.get().body)) == {"First_Name": "Ravi", "lead": {"city": "Pune"}}


def test_a_key_as_sent_wins_over_the_same_key_made_from_php_form_keys(post_lead):
    payload = {
        "lead[name]": "Not this",
        "name": "Ravi Kumar",
        "lead": "web",
        "lead[phone]": "9000000000",
        "phone": "9876543210",
    }

    response = post_lead(CARDEKHO, payload)

    assert response.status_code == 201
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_number) == ("Ravi Kumar", "9876543210")
    assert lead.payload == payload
