"""prune_deliveries deletes old ledger rows in batches and week-old test leads, blanks raw data past its retention,
and never deletes a real lead."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from leads.models import Delivery, Lead

pytestmark = pytest.mark.django_db


def test_old_deliveries_go_recent_ones_and_every_lead_stay():
    old = timezone.now() - timedelta(days=91)
    lead = Lead.objects.create(platform="CarDekho", name="Ravi", phone_number="9876543210", received_at=old)
    Delivery.objects.bulk_create(
        [
            Delivery(platform="CarDekho", status_code=201, outcome="created", lead=lead, received_at=old)
            for _ in range(7)
        ]
        + [Delivery(platform="CarDekho", status_code=201, outcome="created", lead=lead) for _ in range(2)]
    )
    out = StringIO()

    call_command("prune_deliveries", "--older-than-days", "90", "--batch-size", "3", stdout=out)

    assert out.getvalue().strip() == (
        "Deleted 7 deliveries older than 90 days and 0 test leads older than 7 days; blanked 0 lead payloads and 0 "
        "ledger bodies older than 365 days; real leads kept."
    )
    assert Delivery.objects.count() == 2
    assert Lead.objects.get() == lead


def test_default_is_90_days():
    Delivery.objects.create(
        platform="CarWale", status_code=400, outcome="rejected", received_at=timezone.now() - timedelta(days=89)
    )
    out = StringIO()

    call_command("prune_deliveries", stdout=out)

    assert Delivery.objects.count() == 1
    assert out.getvalue().startswith("Deleted 0 deliveries older than 90 days")


def test_zero_days_is_refused():
    with pytest.raises(CommandError, match="--older-than-days must be at least 1"):
        call_command("prune_deliveries", "--older-than-days", "0", stdout=StringIO())


def test_test_leads_go_after_seven_days_and_real_ones_stay(make_lead):
    old = timezone.now() - timedelta(days=8)
    make_lead(is_test=True, received_at=old)
    recent_test = make_lead(is_test=True, phone_number="9000000001")
    real = make_lead(received_at=old, phone_number="9000000002")
    out = StringIO()

    call_command("prune_deliveries", stdout=out)

    assert set(Lead.objects.all()) == {recent_test, real}
    assert "and 1 test leads older than 7 days" in out.getvalue()


def test_raw_payloads_and_ledger_bodies_past_retention_are_blanked_and_the_mapped_fields_stay(make_lead):
    year_ago = timezone.now() - timedelta(days=366)
    old = make_lead(name="Ravi", car_model="MG Hector", campaign="diwali", received_at=year_ago, status="booked")
    recent = make_lead(phone_number="9123456780", received_at=timezone.now() - timedelta(days=364))
    body = b'{"name": "Ravi", "phone_number": "9876543210"}'
    old_ones = [
        Delivery.objects.create(platform="CarDekho", status_code=201, outcome="created", lead=old, body=body),
        Delivery.objects.create(
            platform="CarDekho", status_code=400, outcome="rejected", body=body, received_at=year_ago
        ),
    ]
    kept = Delivery.objects.create(platform="CarDekho", status_code=201, outcome="created", lead=recent, body=body)
    out = StringIO()

    call_command("prune_deliveries", "--older-than-days", "400", "--batch-size", "1", stdout=out)

    assert "blanked 1 lead payloads and 2 ledger bodies older than 365 days; real leads kept." in out.getvalue()
    old.refresh_from_db()
    assert old.payload == {}
    assert (old.name, old.phone_e164, old.car_model, old.campaign, old.status) == (
        "Ravi",
        "+919876543210",
        "MG Hector",
        "diwali",
        "booked",
    )
    assert [bytes(Delivery.objects.get(pk=d.pk).body) for d in old_ones] == [b"", b""]
    recent.refresh_from_db()
    assert recent.payload == {"name": "Ravi Kumar", "phone_number": "9123456780"}
    assert bytes(Delivery.objects.get(pk=kept.pk).body) == body


def test_retention_comes_from_lead_payload_retention_days(make_lead, settings):
    settings.LEAD_PAYLOAD_RETENTION_DAYS = 30
    lead = make_lead(received_at=timezone.now() - timedelta(days=31))
    out = StringIO()

    call_command("prune_deliveries", stdout=out)

    lead.refresh_from_db()
    assert lead.payload == {}
    assert "blanked 1 lead payloads and 0 ledger bodies older than 30 days" in out.getvalue()


def test_a_duplicates_row_that_keeps_a_partner_lead_id_outlives_the_prune(post_lead):
    from leads.partners import CARDEKHO

    first = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "A"})
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "B"})  # a duplicate within the minute
    Lead.objects.update(received_at=timezone.now() - timedelta(days=100))
    Delivery.objects.update(received_at=timezone.now() - timedelta(days=100))

    call_command("prune_deliveries", stdout=StringIO())
    resent = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210", "lead_id": "B"})

    assert list(
        Delivery.objects.filter(received_at__lt=timezone.now() - timedelta(days=90)).values_list(
            "partner_lead_id", "outcome"
        )
    ) == [("B", Delivery.Outcome.DUPLICATE)]
    assert resent.json() == {**first.json(), "duplicate": True}
