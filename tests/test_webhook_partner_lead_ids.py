"""A partner's own lead id (or an Idempotency-Key) makes a resend the same lead, however late it comes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE, PARTNER_LEAD_ID_ALIASES

pytestmark = pytest.mark.django_db


def age_every_lead(days: int) -> None:
    Lead.objects.update(received_at=timezone.now() - timedelta(days=days))


@pytest.mark.parametrize("alias", PARTNER_LEAD_ID_ALIASES)
def test_a_lead_id_resent_days_later_with_another_phone_format_is_the_same_lead(post_lead, alias):
    first = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", alias: "CD-1001"})
    age_every_lead(days=3)

    again = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "+91 98765-43210", alias: "CD-1001"})

    assert again.status_code == 201
    assert again.json() == {"message": CARDEKHO.success_message, "id": first.json()["id"], "duplicate": True}
    lead = Lead.objects.get()
    assert lead.partner_lead_id == "CD-1001"
    assert list(Delivery.objects.order_by("id").values_list("outcome", "lead")) == [
        ("created", lead.pk),
        ("duplicate", lead.pk),
    ]


def test_the_idempotency_key_header_stands_in_for_a_lead_id(post_lead):
    first = post_lead(CARWALE, {"customer_name": "Sunita", "mobile": "9123456780"}, HTTP_IDEMPOTENCY_KEY="evt_77")
    age_every_lead(days=1)

    again = post_lead(CARWALE, {"customer_name": "Sunita", "mobile": "09123456780"}, HTTP_IDEMPOTENCY_KEY="evt_77")

    assert again.json()["id"] == first.json()["id"]
    assert again.json()["duplicate"] is True
    assert Lead.objects.get().partner_lead_id == "evt_77"


@pytest.mark.parametrize(("first_id", "second_id"), [("A", "B"), ("", "B"), ("A", "")])
def test_the_guides_phone_and_minute_rule_holds_whatever_ids_the_leads_carry(post_lead, first_id, second_id):
    # Guide §6: the same platform and phone within the minute is not stored again. A lead id may be the
    # partner's per-send id, and without this every retry of theirs would be a second lead.
    first = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": first_id})

    second = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "+91 98765 43210", "lead_id": second_id})

    assert second.json() == {**first.json(), "duplicate": True}
    assert Lead.objects.count() == 1


@pytest.mark.parametrize("first_id", ["A", ""])
def test_an_id_taken_for_an_earlier_lead_within_the_minute_is_that_lead_for_good(post_lead, first_id):
    first = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": first_id})
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "B"})
    age_every_lead(days=1)

    resent = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "+91 98765 43210", "lead_id": "B"})

    assert resent.json() == {**first.json(), "duplicate": True}
    assert Lead.objects.count() == 1


def test_different_lead_ids_for_one_phone_past_the_window_are_two_leads(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "A"})
    age_every_lead(days=1)

    second = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "B"})

    assert second.json()["duplicate"] is False
    assert Lead.objects.count() == 2


def test_without_an_id_the_phone_and_minute_rule_still_applies(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})
    age_every_lead(days=1)

    later = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert later.json()["duplicate"] is False
    assert Lead.objects.count() == 2


def test_the_same_id_from_the_other_partner_is_another_lead(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "42"})

    other = post_lead(CARWALE, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "42"})

    assert other.json()["duplicate"] is False
    assert Lead.objects.count() == 2


def test_the_database_refuses_a_second_lead_with_the_same_id_and_phone(make_lead):
    make_lead(partner_lead_id="CD-9", phone_number="9876543210")

    with pytest.raises(IntegrityError), transaction.atomic():
        make_lead(partner_lead_id="CD-9", phone_number="+91 98765 43210")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_resends_of_one_id_leave_one_lead(post_leads_at_once):
    resends = 20
    # Each resend formats the phone its own way, so only the id can tell they are one lead.
    phones = ["9876543210", "+91 98765 43210", "09876543210", "91-98765-43210"]
    bodies = [{"name": "Ravi", "phone_number": phones[n % 4], "enquiry_id": "ENQ-7"} for n in range(resends)]

    results = post_leads_at_once(CARDEKHO, bodies)

    assert {status for status, _ in results} == {201}
    lead = Lead.objects.get()
    assert {body["id"] for _, body in results} == {str(lead.public_id)}
    assert sorted(body["duplicate"] for _, body in results) == [False] + [True] * (resends - 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_phone_with_other_ids_or_none_leave_one_lead(post_leads_at_once):
    # The retries of a partner with per-send ids, racing ones without: all one buyer within the minute.
    ids = [f"send-{n}" if n % 2 else "" for n in range(12)]
    bodies = [{"name": "Ravi", "phone_number": "9876543210", "lead_id": lead_id} for lead_id in ids]

    results = post_leads_at_once(CARDEKHO, bodies)

    assert {status for status, _ in results} == {201}
    lead = Lead.objects.get()
    assert {body["id"] for _, body in results} == {str(lead.public_id)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ids", [["", "send-1", "send-2"], ["ENQ-9"]])
def test_concurrent_sends_of_a_phone_without_digits_leave_one_lead(post_leads_at_once, ids):
    # The window compares such a phone as sent, the id with the (empty) digits; both locks are taken.
    phones = ["not given", "not given", "not  given!"] if ids == ["ENQ-9"] else ["not given"]
    bodies = [
        {"name": "Ravi", "phone_number": phones[n % len(phones)], "lead_id": ids[n % len(ids)]} for n in range(12)
    ]

    results = post_leads_at_once(CARDEKHO, bodies)

    assert {status for status, _ in results} == {201}
    assert Lead.objects.count() == 1


def test_the_same_id_with_another_phone_is_another_buyer(post_lead):
    # A partner whose lead id means a campaign or an ad sends the same value with every lead.
    first = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "campaign-7"})

    second = post_lead(CARDEKHO, {"name": "Sunita", "phone_number": "9123456780", "lead_id": "campaign-7"})

    assert second.json()["duplicate"] is False
    assert second.json()["id"] != first.json()["id"]
    assert sorted(Lead.objects.values_list("name", flat=True)) == ["Ravi", "Sunita"]


def test_a_plain_id_is_one_of_the_partners_extra_properties_not_a_lead_id(post_lead):
    # "id" may name a dealer, an ad or a campaign: a returning buyer's new enquiry with the same value
    # after the guide's minute is a new lead (guide §6), not swallowed as a resend.
    first = post_lead(CARWALE, {"customer_name": "Repeat Buyer", "mobile": "9123456780", "id": "dealer-17"})
    Lead.objects.update(received_at=timezone.now() - timedelta(seconds=70))

    second = post_lead(
        CARWALE,
        {"customer_name": "Repeat Buyer", "mobile": "9123456780", "vehicle_model": "ZS EV", "id": "dealer-17"},
    )

    assert second.json()["duplicate"] is False
    assert second.json()["id"] != first.json()["id"]
    new = Lead.objects.get(public_id=second.json()["id"])
    assert (new.car_model, new.partner_lead_id, new.payload["id"]) == ("ZS EV", "", "dealer-17")
