"""Guide §6's idempotency, built now: one lead per platform and phone within the window."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

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


def test_the_lock_dedupe_lead_and_ledger_row_are_one_statement(client, settings):
    # Every lead pays for each round trip to the database (bench/ingest.py), so the lock, the
    # dedupe lookup and both inserts travel together. An environment key spares the key lookup.
    # (A new real lead is then assigned and its alert queued in the same transaction: leads.sales.assignment.)
    settings.LEAD_API_KEYS = {"cardekho": "env-key-for-query-count"}
    body = json.dumps({"name": "Ravi", "phone_number": "9876543210", "car_model": "Hector"})
    warm_up = json.dumps({"name": "First", "phone_number": "9876500000"})
    client.post(CARDEKHO.path, warm_up, content_type="application/json", HTTP_X_API_KEY="env-key-for-query-count")

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            CARDEKHO.path, body, content_type="application/json", HTTP_X_API_KEY="env-key-for-query-count"
        )

    assert response.status_code == 201
    stores = [q["sql"] for q in queries if "leads_store_" in q["sql"]]
    assert len(stores) == 1 and "EXECUTE leads_store_phone_digits(" in stores[0], stores
    assert not [
        q["sql"] for q in queries if q["sql"].startswith(('INSERT INTO "leads_lead"', 'INSERT INTO "leads_delivery"'))
    ]
    lead = Lead.objects.get(public_id=response.json()["id"])
    assert (lead.name, lead.phone_e164, lead.car_model, lead.status) == ("Ravi", "+919876543210", "Hector", "new")
    assert lead.payload == json.loads(body)
    delivery = lead.deliveries.get()
    assert (delivery.lead, delivery.outcome, delivery.key_prefix, bytes(delivery.body)) == (
        lead,
        Delivery.Outcome.CREATED,
        "env",
        body.encode(),
    )


@pytest.mark.django_db(transaction=True)
def test_each_new_database_connection_prepares_the_statement_once(settings):
    # The statement is prepared per connection; a new one (after a PostgreSQL restart, say)
    # prepares it again instead of failing every lead.
    settings.LEAD_API_KEYS = {"cardekho": "env-key-for-prepare"}

    def post(phone: str) -> list[str]:
        body = json.dumps({"name": "Ravi", "phone_number": phone})
        with CaptureQueriesContext(connection) as queries:
            response = Client().post(
                CARDEKHO.path, body, content_type="application/json", HTTP_X_API_KEY="env-key-for-prepare"
            )
        assert response.status_code == 201, response.content
        return [
            "PREPARE" if "PREPARE leads_store_" in q["sql"] else "EXECUTE"
            for q in queries
            if "leads_store_" in q["sql"]
        ]

    connection.close()
    assert post("9876500001") == ["PREPARE", "EXECUTE"]
    assert post("9876500002") == ["EXECUTE"]
    connection.close()
    assert post("9876500003") == ["PREPARE", "EXECUTE"]
    assert Lead.objects.count() == 3
    assert Delivery.objects.filter(outcome=Delivery.Outcome.CREATED).count() == 3


def test_the_store_statement_numbers_its_named_parameters_in_order_of_first_use():
    from leads.intake.store import _numbered

    assert _numbered("a = %(x)s AND b = %(y)s OR a = %(x)s") == ("a = $1 AND b = $2 OR a = $1", ("x", "y"))
