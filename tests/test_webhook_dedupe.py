"""Guide §6's idempotency, built now: one lead per platform and phone within the window."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import override_settings

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db


def test_same_phone_in_another_format_within_the_window_is_a_duplicate(post_lead):
    first = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    second = post_lead(CARDEKHO, {"name": "Ravi K", "phone_number": "+91 98765 43210"})

    assert second.status_code == 201
    assert second.json() == {
        "message": "CarDekho lead inserted successfully",
        "id": first.json()["id"],
        "duplicate": True,
    }
    assert Lead.objects.count() == 1
    duplicate = Delivery.objects.get(outcome=Delivery.Outcome.DUPLICATE)
    assert duplicate.lead == Lead.objects.get()
    assert json.loads(bytes(duplicate.body))["name"] == "Ravi K"


def test_same_phone_from_the_other_partner_is_a_new_lead(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    response = post_lead(CARWALE, {"customer_name": "Ravi", "mobile": "9876543210"})

    assert response.json()["duplicate"] is False
    assert Lead.objects.count() == 2


def test_same_phone_after_the_window_is_a_new_lead(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})
    Lead.objects.update(received_at=Lead.objects.get().received_at - timedelta(seconds=61))

    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert response.json()["duplicate"] is False
    assert Lead.objects.count() == 2


@override_settings(LEAD_DEDUPE_WINDOW_SECONDS=600)
def test_window_comes_from_settings(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})
    Lead.objects.update(received_at=Lead.objects.get().received_at - timedelta(seconds=300))

    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert response.json()["duplicate"] is True


@override_settings(LEAD_DEDUPE_WINDOW_SECONDS=0)
def test_zero_window_turns_dedupe_off(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert Lead.objects.count() == 2


def test_unparseable_phones_dedupe_on_the_text_sent(post_lead):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "call me"})
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "call me"})
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "email me"})

    assert Lead.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_many_identical_posts_at_once_leave_exactly_one_lead(post_leads_at_once):
    posts = 16

    results = post_leads_at_once(CARDEKHO, [{"name": "Ravi", "phone_number": "9876543210"}] * posts)

    assert {status for status, _ in results} == {201}
    lead = Lead.objects.get()
    assert {body["id"] for _, body in results} == {str(lead.public_id)}
    assert sorted(body["duplicate"] for _, body in results) == [False] + [True] * (posts - 1)
    assert Delivery.objects.filter(outcome="created").count() == 1
    assert Delivery.objects.filter(outcome="duplicate", lead=lead).count() == posts - 1
