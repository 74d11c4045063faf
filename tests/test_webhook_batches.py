"""Several leads in one request: a JSON array, {"leads": [...]}, or NDJSON (leads.intake.batches)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from leads.intake.aliases import field_alias_add
from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

RAVI = {"name": "Ravi Kumar", "phone_number": "9876543210"}
SUNITA = {"name": "Sunita Rao", "phone_number": "9123456780"}
ANIL = {"name": "Anil", "phone": "9000000007", "lead_id": "cd-3"}


def stored(response):
    return [Lead.objects.get(public_id=entry["id"]) for entry in response.json()["results"]]


def test_a_batch_of_three_stores_three_each_with_its_own_ledger_row(post_lead):
    response = post_lead(CARDEKHO, [RAVI, SUNITA, ANIL])

    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "3 CarDekho leads inserted successfully"
    assert [entry["duplicate"] for entry in body["results"]] == [False, False, False]
    assert [lead.name for lead in stored(response)] == ["Ravi Kumar", "Sunita Rao", "Anil"]
    assert Lead.objects.get(name="Anil").partner_lead_id == "cd-3"
    rows = Delivery.objects.order_by("pk")
    assert [row.lead.name for row in rows] == ["Ravi Kumar", "Sunita Rao", "Anil"]
    assert [json.loads(bytes(row.body)) for row in rows] == [RAVI, SUNITA, ANIL]
    assert {row.outcome for row in rows} == {Delivery.Outcome.CREATED}


def test_an_array_of_one_is_answered_as_the_lead_alone_with_its_results(post_lead):
    response = post_lead(CARWALE, [dict(CARWALE.sample)])

    lead = Lead.objects.get()
    result = {"id": str(lead.public_id), "duplicate": False}
    assert response.status_code == 201
    assert response.json() == {"message": "CarWale lead inserted successfully", **result, "results": [result]}
    assert lead.payload == dict(CARWALE.sample)


def test_a_single_object_is_answered_exactly_as_the_guide_says(post_lead):
    response = post_lead(CARDEKHO, RAVI)

    assert response.status_code == 201
    assert set(response.json()) == {"message", "id", "duplicate"}


def test_leads_under_a_leads_key_are_a_batch(post_lead):
    response = post_lead(CARDEKHO, {"leads": [RAVI, SUNITA]})

    assert response.status_code == 201
    assert [lead.name for lead in stored(response)] == ["Ravi Kumar", "Sunita Rao"]


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "application/json"])
def test_ndjson_is_a_batch_declared_or_not(post_lead, content_type):
    body = b"\n".join(json.dumps(lead).encode() for lead in (RAVI, SUNITA)) + b"\n"

    response = post_lead(CARDEKHO, body=body, content_type=content_type)

    assert response.status_code == 201
    assert [lead.name for lead in stored(response)] == ["Ravi Kumar", "Sunita Rao"]


def test_a_repeated_lead_in_a_batch_is_a_duplicate_of_the_first(post_lead):
    response = post_lead(CARDEKHO, [RAVI, RAVI])

    first, second = response.json()["results"]
    assert response.status_code == 201
    assert (first["duplicate"], second["duplicate"], second["id"]) == (False, True, first["id"])
    assert Lead.objects.count() == 1


def test_some_refused_is_207_and_each_refused_lead_is_kept_for_replay(post_lead, keys):
    response = post_lead(CARDEKHO, [RAVI, {"name": "No Phone"}, "not a lead", SUNITA])

    assert response.status_code == 207
    results = response.json()["results"]
    assert results[1] == {"error": "Missing required fields: phone_number"}
    assert results[2] == {"error": "A lead must be a JSON object, not a string"}
    assert [lead.name for lead in Lead.objects.order_by("pk")] == ["Ravi Kumar", "Sunita Rao"]
    refused = Delivery.objects.filter(lead=None).order_by("pk")
    assert [(row.status_code, json.loads(bytes(row.body))) for row in refused] == [
        (400, {"name": "No Phone"}),
        (400, "not a lead"),
    ]
    assert Delivery.objects.count() == 4  # a row a lead, none for the request as a whole


def test_a_refused_lead_of_a_batch_is_stored_by_replay_alone(post_lead):
    post_lead(CARDEKHO, [RAVI, {"name": "Priya", "telefono": "9988776655"}])
    field_alias_add(partner=CARDEKHO, field="phone_number", alias="telefono")

    call_command("replay_deliveries", "--partner", "cardekho")

    assert sorted(Lead.objects.values_list("name", flat=True)) == ["Priya", "Ravi Kumar"]


def test_a_batch_with_nothing_storable_is_400_with_its_results(post_lead):
    response = post_lead(CARDEKHO, [{"name": "A"}, {"name": "B"}])

    assert response.status_code == 400
    assert response.json()["error"] == "None of the 2 leads could be stored; each says why in results"
    assert len(response.json()["results"]) == 2
    assert not Lead.objects.exists()
    assert Delivery.objects.filter(status_code=400).count() == 2


def test_an_array_of_one_refused_is_400_as_the_lead_alone(post_lead):
    response = post_lead(CARDEKHO, [{"name": "A"}])

    assert response.status_code == 400
    assert response.json()["error"] == "Missing required fields: phone_number"


@override_settings(LEAD_MAX_BATCH_LEADS=2)
def test_a_batch_over_the_cap_is_413_kept_whole_and_replay_stores_each_lead(post_lead):
    response = post_lead(CARDEKHO, [RAVI, SUNITA, ANIL])

    assert response.status_code == 413
    assert response.json() == {"error": "A batch may hold at most 2 leads, not 3; send the rest separately"}
    assert not Lead.objects.exists()
    (row,) = Delivery.objects.all()
    assert json.loads(bytes(row.body)) == [RAVI, SUNITA, ANIL]

    call_command("replay_deliveries", "--partner", "cardekho")

    assert Lead.objects.count() == 3
    row.refresh_from_db()
    assert row.lead is not None


@override_settings(LEAD_RATE_LIMIT_HARD="3/m", LEAD_RATE_LIMIT_SOFT="2/m")
def test_each_lead_of_a_batch_counts_against_the_partners_limits(post_lead):
    first = post_lead(CARDEKHO, [RAVI, SUNITA])
    second = post_lead(CARDEKHO, [ANIL, {"name": "Priya", "phone": "9988776655"}])

    assert first.status_code == 201
    assert second.status_code == 429
    assert "Retry-After" in second
    assert Lead.objects.count() == 2
    refused = Delivery.objects.get(status_code=429)
    assert len(json.loads(bytes(refused.body))) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"[]", "Request body must be a JSON object, not an array"), (b'{"leads": []}', "Missing required fields")],
)
def test_an_empty_batch_is_refused_as_before(post_lead, body, message):
    response = post_lead(CARDEKHO, body=body)

    assert response.status_code == 400
    assert response.json()["error"].startswith(message)
