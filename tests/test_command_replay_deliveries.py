"""replay_deliveries: refused deliveries whose body was kept become leads through today's mapping, once."""

from __future__ import annotations

import gzip
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from leads.intake.keys import api_key_create
from leads.models import Delivery, Lead, LeadEvent
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

RENAMED = {"customer_name": "Sunita Rao", "buyer_mobile": "9123456780", "vehicle_model": "Hector"}


def replay(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("replay_deliveries", *args, stdout=out)
    return out.getvalue().splitlines()


def test_after_an_alias_is_added_a_refused_delivery_is_stored_with_its_original_time(post_lead):
    refused = post_lead(CARWALE, RENAMED)
    delivery = Delivery.objects.get()
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    lines = replay()

    assert refused.status_code == 400
    lead = Lead.objects.get()
    assert (lead.name, lead.phone_e164, lead.car_model) == ("Sunita Rao", "+919123456780", "Hector")
    assert lead.received_at == delivery.received_at
    delivery.refresh_from_db()
    assert (delivery.lead, delivery.replayed_at is not None) == (lead, True)
    assert lines[0].endswith(f"stored as lead {lead.public_id}")
    assert lines[-1] == "Replayed 1 deliveries: 1 stored as new leads, 0 already stored, 0 still refused, 0 skipped."


def test_replaying_twice_stores_one_lead(post_lead):
    post_lead(CARWALE, RENAMED)
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())
    replay()

    again = replay()

    assert Lead.objects.count() == 1
    assert again == ["Replayed 0 deliveries: 0 stored as new leads, 0 already stored, 0 still refused, 0 skipped."]


def test_a_delivery_still_refused_says_why(post_lead):
    post_lead(CARWALE, RENAMED)

    lines = replay()

    assert lines[0].endswith("still refused: Missing required fields: phone_number")
    assert not Lead.objects.exists()
    assert Delivery.objects.get().lead is None


def test_a_gzip_form_delivery_refused_before_is_read_the_same_way_again(post_lead):
    body = gzip.compress(b"customer_name=Sunita&buyer_mobile=9123456780")
    post_lead(CARWALE, body=body, content_type="application/x-www-form-urlencoded", HTTP_CONTENT_ENCODING="gzip")
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    replay()

    assert Lead.objects.get().payload == {"customer_name": "Sunita", "buyer_mobile": "9123456780"}


def test_unauthorised_and_truncated_deliveries_are_never_replayed(post_lead, settings):
    post_lead(CARWALE, RENAMED, key="raam_00000000_wrong")
    settings.LEAD_LEDGER_BODY_BYTES = 10
    post_lead(CARWALE, RENAMED)
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    lines = replay()

    assert lines == ["Replayed 0 deliveries: 0 stored as new leads, 0 already stored, 0 still refused, 0 skipped."]
    assert not Lead.objects.exists()


def test_filters_pick_the_deliveries(post_lead):
    post_lead(CARWALE, RENAMED)
    post_lead(CARDEKHO, {"name": "Ravi", "buyer_mobile": "9876543210"})
    Delivery.objects.filter(platform="CarDekho").update(received_at=timezone.now() - timedelta(days=2))
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())
    call_command("field_alias", "add", "cardekho", "phone_number", "buyer_mobile", stdout=io.StringIO())
    since = (timezone.localdate() - timedelta(days=1)).isoformat()

    lines = replay("--partner", "carwale", "--since", since, "--status", "400")

    assert len(lines) == 2
    assert list(Lead.objects.values_list("platform", flat=True)) == ["CarWale"]
    cardekho = Delivery.objects.get(platform="CarDekho")
    assert replay("--id", str(cardekho.pk))[-1].startswith("Replayed 1 deliveries: 1 stored")


def test_a_test_keys_delivery_replays_as_a_test_lead(post_lead):
    issued = api_key_create(partner=CARWALE, is_test=True)
    post_lead(CARWALE, RENAMED, key=issued.secret)
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    replay()

    assert Lead.objects.get().is_test is True


def test_a_bad_date_is_a_clear_error():
    with pytest.raises(CommandError, match="--since 'yesterday' is not a date"):
        replay("--since", "yesterday")


def test_the_replay_leaves_its_own_ledger_row(post_lead):
    post_lead(CARWALE, RENAMED)
    original = Delivery.objects.get()
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    replay()

    row = Delivery.objects.exclude(pk=original.pk).get()
    assert (row.outcome, row.request_id, row.lead) == ("created", f"replay-of-{original.pk}", Lead.objects.get())
    assert row.is_replay
    assert json.loads(bytes(row.body)) == RENAMED


def test_a_delivery_refused_days_ago_is_not_taken_for_a_newer_lead_of_the_same_buyer(post_lead):
    post_lead(CARWALE, RENAMED)
    Delivery.objects.update(received_at=timezone.now() - timedelta(days=5))
    today = post_lead(CARWALE, {"customer_name": "Sunita Rao", "mobile": "9123456780"})
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    lines = replay()

    assert today.status_code == 201
    assert Lead.objects.count() == 2
    assert lines[-1].startswith("Replayed 1 deliveries: 1 stored as new leads")


@override_settings(LEAD_RATE_LIMIT_HARD="1/d")
def test_a_lead_refused_for_the_hard_ceiling_keeps_its_body_and_replays_into_a_lead(post_lead):
    post_lead(CARWALE, {"customer_name": "First", "mobile": "9000000001"})
    over = post_lead(CARWALE, {"customer_name": "Sunita Rao", "mobile": "9123456780"})

    lines = replay()

    assert over.status_code == 429
    assert over.json() == {"error": "Rate limit exceeded"}
    assert Lead.objects.filter(name="Sunita Rao").exists()
    assert lines[-1].startswith("Replayed 1 deliveries: 1 stored as new leads")


@override_settings(LEAD_RATE_LIMIT_HARD="1/d", LEAD_MAX_BODY_BYTES=2048, LEAD_LEDGER_BODY_BYTES=100)
def test_a_hard_ceiling_refusal_of_a_body_too_large_is_still_429_and_keeps_its_start(post_lead):
    post_lead(CARWALE, {"customer_name": "First", "mobile": "9000000001"})

    over = post_lead(CARWALE, {"customer_name": "Sunita Rao", "mobile": "9123456780", "notes": "x" * 3000})

    assert over.status_code == 429
    delivery = Delivery.objects.get(status_code=429)
    assert (len(bytes(delivery.body)), delivery.body_truncated) == (100, True)


def test_a_refused_delivery_the_partner_resent_and_we_stored_is_that_lead(post_lead, settings):
    settings.LEAD_RATE_LIMIT_HARD = "1/d"
    post_lead(CARWALE, {"customer_name": "First", "mobile": "9000000001"})
    body = {"customer_name": "Sunita Rao", "mobile": "9123456780"}
    post_lead(CARWALE, body)  # 429
    Delivery.objects.filter(status_code=429).update(received_at=timezone.now() - timedelta(hours=2))
    settings.LEAD_RATE_LIMIT_HARD = "1000/d"
    retried = post_lead(CARWALE, body)  # the partner's retry, two hours later: past the dedupe window

    lines = replay()

    assert retried.status_code == 201
    assert Lead.objects.filter(name="Sunita Rao").count() == 1
    assert lines[0].endswith(f"the same buyer as lead {retried.json()['id']}")


def test_a_live_429_is_never_taken_for_the_test_lead_of_the_same_body(post_lead, settings):
    from leads.intake.keys import api_key_create

    staging = api_key_create(partner=CARWALE, label="staging", is_test=True).secret
    settings.LEAD_RATE_LIMIT_HARD = "1/d"
    post_lead(CARWALE, {"customer_name": "First", "mobile": "9000000001"})
    body = {"customer_name": "Sunita Rao", "mobile": "9123456780"}
    post_lead(CARWALE, body)  # 429 for the live key
    settings.LEAD_RATE_LIMIT_HARD = "1000/d"
    post_lead(CARWALE, body, key=staging)  # the same body from staging: a test lead

    replay()

    assert Lead.objects.filter(name="Sunita Rao", is_test=False).count() == 1


def test_two_identical_bodies_refused_for_a_renamed_field_days_apart_are_two_leads(post_lead):
    post_lead(CARWALE, RENAMED)
    post_lead(CARWALE, RENAMED)
    first, second = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk=first.pk).update(received_at=timezone.now() - timedelta(days=3))
    Delivery.objects.filter(pk=second.pk).update(received_at=timezone.now() - timedelta(hours=20))
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    replay()

    assert Lead.objects.count() == 2


def test_a_delivery_sent_with_a_key_already_revoked_is_not_stored(post_lead):
    # A process trusts a key it checked for up to a minute, so a request in that minute can be refused for
    # its body (or the ceiling) instead of its key; replay must not store it on that key's word.
    issued = api_key_create(partner=CARWALE)
    post_lead(CARWALE, RENAMED, key=issued.secret)
    delivery = Delivery.objects.get()
    type(issued.api_key).objects.filter(pk=issued.api_key.pk).update(
        revoked_at=delivery.received_at - timedelta(seconds=1)
    )
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    lines = replay()

    assert lines[0].endswith(f"skipped, its key {issued.api_key.prefix} no longer worked when it came")
    assert not Lead.objects.exists()


def test_a_key_revoked_after_the_delivery_came_still_replays_it(post_lead):
    issued = api_key_create(partner=CARWALE)
    post_lead(CARWALE, RENAMED, key=issued.secret)
    type(issued.api_key).objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    assert replay()[-1].startswith("Replayed 1 deliveries: 1 stored")


def test_each_line_gives_the_time_in_ist(post_lead):
    post_lead(CARWALE, RENAMED)
    delivery = Delivery.objects.get()

    (line, _) = replay()

    assert f"{timezone.localtime(delivery.received_at):%Y-%m-%d %H:%M} IST, was 400" in line


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--since", "2026-13-45"], "--since '2026-13-45' is not a date"),
        (["--until", "2026-02-30"], "--until '2026-02-30' is not a date"),
        (["--since", "2026-11-28T25:00"], "--since '2026-11-28T25:00' is not a date"),
        (["--status", "200"], r"--status 200: only refused deliveries are replayed \(400, 413, 415, 429\)"),
        (["--since", "2026-11-28", "--until", "2026-11-27"], "--since 2026-11-28 is not before --until 2026-11-27"),
    ],
)
def test_options_that_can_match_nothing_are_clear_errors(args, error):
    with pytest.raises(CommandError, match=error):
        replay(*args)


@override_settings(LEAD_RATE_LIMIT_HARD="1/d")
def test_a_refused_lead_keeps_its_idempotency_key_so_replay_knows_its_later_resend(post_lead):
    post_lead(CARDEKHO, {"name": "First", "phone_number": "9000000001"})
    refused = post_lead(
        CARDEKHO, {"name": "Idem Buyer", "phone_number": "9422222222", "attempt": 1}, HTTP_IDEMPOTENCY_KEY="idem-7"
    )
    Delivery.objects.filter(status_code=429).update(received_at=timezone.now() - timedelta(hours=1))
    with override_settings(LEAD_RATE_LIMIT_HARD="100/d"):  # the partner resends later, its body changed
        resent = post_lead(
            CARDEKHO, {"name": "Idem Buyer", "phone_number": "9422222222", "attempt": 2}, HTTP_IDEMPOTENCY_KEY="idem-7"
        )

    lines = replay("--status", "429")

    assert (refused.status_code, resent.status_code) == (429, 201)
    assert lines[0].endswith(f"the same buyer as lead {resent.json()['id']}")
    assert Lead.objects.filter(name="Idem Buyer").count() == 1


def test_a_lead_replayed_after_an_alias_is_stored_under_its_idempotency_key(post_lead):
    post_lead(CARWALE, RENAMED, HTTP_IDEMPOTENCY_KEY="evt-42")
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())

    replay()

    assert Lead.objects.get().partner_lead_id == "evt-42"


ERASED_BUYER = {"customer_name": "Rajesh Kumar", "buyer_mobile": "98765/43210", "vehicle_model": "Creta"}


def erase(phone: str) -> None:
    call_command("erase_buyer", phone, "--requested-by", "dpo ticket 1", stdout=io.StringIO())


def alias_buyer_mobile() -> None:
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())


def test_a_buyer_erased_and_then_replayed_after_an_alias_is_added_yields_no_lead(
    post_lead, make_salesperson, empty_job_queue
):
    make_salesperson("asha", on_duty=True)
    assert post_lead(CARWALE, ERASED_BUYER).status_code == 400
    erase("+91 98765 43210")
    alias_buyer_mobile()

    lines = replay()

    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()
    assert not ProcrastinateJob.objects.filter(status="todo").exists()
    assert lines[-1].startswith("Replayed 0 deliveries")


def test_a_delivery_of_an_erased_buyer_that_erasure_did_not_erase_is_skipped_and_says_so(
    post_lead, make_salesperson, empty_job_queue
):
    make_salesperson("asha", on_duty=True)
    erase("9876543210")
    # Refused while the erasure ran (or in a form it could not read): it came before the erasure, its body intact.
    post_lead(CARWALE, ERASED_BUYER)
    Delivery.objects.update(received_at=timezone.now() - timedelta(hours=1))
    alias_buyer_mobile()

    lines = replay()

    assert not Lead.objects.exists()
    assert not ProcrastinateJob.objects.filter(status="todo").exists()
    assert "skipped, its buyer was erased on " in lines[0]
    assert lines[-1].endswith("0 stored as new leads, 0 already stored, 0 still refused, 1 skipped.")


@override_settings(LEAD_RATE_LIMIT_HARD="1/d")
def test_an_erased_buyers_lead_in_a_batch_refused_whole_is_left_out_and_the_others_are_stored(post_lead):
    erase("9876543210")
    post_lead(CARWALE, {"customer_name": "First", "mobile": "9000000001"})
    batch = [ERASED_BUYER, {"customer_name": "Sunita Rao", "buyer_mobile": "9123456780"}]
    assert post_lead(CARWALE, batch).status_code == 429  # the hard ceiling refuses the batch whole
    Delivery.objects.filter(status_code=429).update(received_at=timezone.now() - timedelta(hours=1))
    alias_buyer_mobile()

    lines = replay("--status", "429")

    assert set(Lead.objects.values_list("name", flat=True)) == {"First", "Sunita Rao"}
    assert lines[0].endswith("; 1 of its batch skipped, their buyers erased since")


def test_a_new_enquiry_from_an_erased_buyer_is_a_new_lead_as_usual(post_lead):
    post_lead(CARWALE, ERASED_BUYER)
    erase("9876543210")
    # They write to us again: refused for the renamed field, then replayed, it is their new enquiry.
    again = post_lead(CARWALE, ERASED_BUYER)
    alias_buyer_mobile()

    lines = replay()
    direct = post_lead(CARWALE, {"customer_name": "Rajesh Kumar", "mobile": "9876543210", "lead_id": "x-2"})

    assert again.status_code == 400
    assert lines[-1].startswith("Replayed 1 deliveries: 1 stored as new leads")
    assert direct.status_code in (200, 201)
    assert Lead.objects.filter(name="Rajesh Kumar", phone_digits="919876543210").exists()
