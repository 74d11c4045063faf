"""replay_deliveries, for issue 24's bodies: a lead read leniently keeps its reading notes when replayed, and the
leads of a batch still refused on replay keep the time the batch came."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from leads.models import REPLAY_REQUEST_PREFIX, Delivery, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db

RENAMED = {"customer_name": "D\u2019Souza", "buyer_mobile": "9123456780"}  # buyer_mobile: no alias yet


def replay() -> list[str]:
    out = io.StringIO()
    call_command("replay_deliveries", stdout=out)
    return out.getvalue().splitlines()


def add_buyer_mobile_alias() -> None:
    call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("body", "note"),
    [
        # cp1252 bytes with no charset: the curly apostrophe is byte 0x92, no UTF-8.
        (json.dumps(RENAMED, ensure_ascii=False).encode("cp1252"), "encoding guessed: windows-1252"),
        (b"{'customer_name': 'Sunita Rao', 'buyer_mobile': '9123456780',}", "near-JSON (a trailing comma, "),
        (b"{'customer_name': 'Sunita Rao', 'buyer_mobile': '9123456780', 'ok': True}", "a Python literal"),
    ],
    ids=["encoding", "near-json", "python-literal"],
)
def test_a_lead_read_leniently_keeps_its_reading_notes_when_replayed(post_lead, body, note):
    refused = post_lead(CARWALE, body=body, content_type="")
    add_buyer_mobile_alias()

    replay()

    assert refused.status_code == 400
    lead = Lead.objects.get()
    assert lead.phone_e164 == "+919123456780"
    row = Delivery.objects.get(lead=lead, request_id__startswith=REPLAY_REQUEST_PREFIX)
    assert row.error.startswith("Stored; read leniently: ")
    assert note in row.error


def test_a_batch_replayed_keeps_its_reading_notes_on_each_stored_leads_row(post_lead, settings):
    settings.LEAD_MAX_BATCH_LEADS = 1  # the batch of two is refused whole, its body kept for replay
    leads = [{"name": "D\u2019Souza", "phone": "9123456780"}, {"name": "Asha", "phone": "9876543210"}]
    refused = post_lead(CARDEKHO, body=json.dumps(leads, ensure_ascii=False).encode("cp1252"), content_type="")
    settings.LEAD_MAX_BATCH_LEADS = 100

    replay()

    assert refused.status_code == 413
    assert sorted(Lead.objects.values_list("name", flat=True)) == ["Asha", "D\u2019Souza"]
    rows = Delivery.objects.filter(request_id__startswith=REPLAY_REQUEST_PREFIX)
    assert [row.error for row in rows] == ["Stored; read leniently: encoding guessed: windows-1252"] * 2


def test_the_leads_of_a_batch_still_refused_on_replay_keep_the_time_the_batch_came(post_lead, settings):
    settings.LEAD_MAX_BATCH_LEADS = 2
    three = [{"name": "Ravi", "phone": "9000000001"}, {"name": "Anil"}, {"name": "Asha", "phone": "9000000003"}]
    refused = post_lead(CARDEKHO, three)
    settings.LEAD_MAX_BATCH_LEADS = 100
    came = timezone.now() - timedelta(days=2)
    Delivery.objects.update(received_at=came)

    lines = replay()

    assert refused.status_code == 413
    assert lines[0].endswith("; 1 of its batch still refused, each kept apart")
    still_refused = Delivery.objects.get(lead__isnull=True, request_id__startswith=REPLAY_REQUEST_PREFIX)
    assert json.loads(bytes(still_refused.body)) == {"name": "Anil"}
    assert still_refused.received_at == came
    assert all(lead.received_at == came for lead in Lead.objects.all())
    # It is replayed, when it is, as a delivery of two days ago: a --until before today finds it.
    assert list(Delivery.objects.refused().filter(received_at__lt=timezone.now() - timedelta(days=1), lead=None)) == [
        still_refused
    ]
