"""erase_buyer anonymises every lead and ledger body holding one phone, keeps the rows, and records who asked."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import zlib
from io import StringIO

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.intake.replay import replayable_deliveries
from leads.models import Delivery, ErasedPhone, ErasureRecord, ExportRecord, Lead, LeadNote
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db


def erase(*args: str) -> str:
    out = StringIO()
    call_command("erase_buyer", *args, stdout=out)
    return out.getvalue().strip()


def refused(body: bytes, **fields) -> Delivery:
    """A lead refused for its body, after its key worked (so the ledger has the key's prefix)."""
    fields.setdefault("content_type", "application/json")
    fields.setdefault("key_prefix", "1a2b3c4d")
    return Delivery.objects.create(platform="CarDekho", status_code=400, outcome="rejected", body=body, **fields)


def test_every_lead_with_the_phone_in_any_format_is_erased_and_the_rows_stay(make_lead):
    buyer = [
        make_lead(phone_number="+91 98765 43210", notes="Call after 6", lead_url="https://cardekho.example/l/1"),
        make_lead(platform="CarWale", phone_number="09876543210", car_model="MG Hector"),
        make_lead(phone_number="919876543210", is_test=True),
        # Two numbers in one field: it does not parse, but it holds the buyer's.
        make_lead(phone_number="9876543210 / 9123456780"),
    ]
    other = make_lead(name="Asha", phone_number="9123456780", notes="Keep me")

    output = erase("98765-43210", "--requested-by", "dpo@raamgroup.in ticket 4411")

    assert Lead.objects.count() == 5
    for lead in buyer:
        lead.refresh_from_db()
        assert (lead.name, lead.phone_number, lead.phone_e164, lead.phone_digits) == ("[erased]", "[erased]", "", "")
        assert (lead.payload, lead.notes, lead.lead_url, lead.phone_valid) == ({"erased": True}, "[erased]", "", False)
    assert buyer[1].car_model == "MG Hector" and buyer[1].platform == "CarWale"
    other.refresh_from_db()
    assert (other.name, other.phone_digits, other.notes) == ("Asha", "919123456780", "Keep me")
    record = ErasureRecord.objects.get()
    assert (record.requested_by, record.phone_masked, record.leads_erased) == (
        "dpo@raamgroup.in ticket 4411",
        "91********10",
        4,
    )
    assert output == (
        f"Erased 4 leads, 0 ledger rows, 0 admin log entries and 0 export filters for 91********10. Recorded as "
        f"erasure {record.pk}, requested by dpo@raamgroup.in ticket 4411 at {record.performed_at:%Y-%m-%d %H:%M} UTC."
    )


def test_phone_search_no_longer_finds_the_buyer(make_lead, admin_client):
    make_lead(phone_number="9876543210")

    erase("+919876543210", "--requested-by", "ticket 1")

    response = admin_client.get("/admin/leads/lead/", {"q": "98765 43210"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert "Ravi Kumar" not in response.content.decode()


def test_ledger_bodies_of_the_buyers_deliveries_and_of_refused_ones_that_mention_the_phone_are_erased(make_lead):
    lead = make_lead(phone_number="9876543210")
    linked = [
        Delivery.objects.create(
            platform="CarDekho", status_code=201, outcome=outcome, lead=lead, body=b'{"name": "Ravi", "phone": "x"}'
        )
        for outcome in ("created", "duplicate")
    ]
    mentions = [
        refused(b'{"name": "Ravi", "mobile": "+91-98765-43210"}'),
        refused(b"name=Ravi&mobile=%2B91+98765+43210", content_type="application/x-www-form-urlencoded"),
        refused(gzip.compress(b'{"name": "Ravi", "mobile": "0091 98765 43210"}'), content_encoding="gzip"),
        refused(json.dumps({"name": "रवि", "mobile": "९८७६५४३२१०"}, ensure_ascii=False).encode()),
        refused(b'{"name": "Ravi", "mobile": "(098765) 432 10"'),  # not even JSON: still searched
    ]
    untouched = [
        refused(b'{"name": "Asha", "mobile": "9123456780"}'),
        refused(b'{"name": "Asha", "mobile": "98765", "pin": "43210"}'),  # the digits, but not one phone
        Delivery.objects.create(platform="CarDekho", status_code=401, outcome="unauthorised"),
    ]

    output = erase("9876543210", "--requested-by", "ticket 2")

    assert Delivery.objects.count() == 10
    for delivery in linked + mentions:
        delivery.refresh_from_db()
        assert (bytes(delivery.body), delivery.content_encoding) == (b"[erased]", "")
    assert [bytes(Delivery.objects.get(pk=d.pk).body) for d in untouched] == [bytes(d.body) for d in untouched]
    assert "Erased 1 leads, 7 ledger rows," in output
    # What is left of an erased body is not the whole body, so it is never replayed as a lead.
    assert set(replayable_deliveries()) == set(untouched[:2])


def test_admin_history_names_of_the_buyers_leads_are_erased(make_lead, admin_user):
    lead = make_lead(name="Ravi Kumar", phone_number="9876543210")
    entry = LogEntry.objects.log_actions(
        user_id=admin_user.pk, queryset=[lead], action_flag=CHANGE, change_message="[]", single_object=True
    )
    other = LogEntry.objects.create(
        user=admin_user,
        content_type=ContentType.objects.get_for_model(User),
        object_id="1",
        object_repr="Ravi Kumar",
        action_flag=CHANGE,
    )

    output = erase("9876543210", "--requested-by", "ticket 3")

    entry.refresh_from_db()
    other.refresh_from_db()
    assert (entry.object_repr, other.object_repr) == ("[erased]", "Ravi Kumar")
    assert "1 admin log entries" in output


def test_a_phone_with_nothing_to_erase_says_so_and_the_request_is_still_recorded(make_lead):
    make_lead(phone_number="9123456780")

    output = erase("98765 43210", "--requested-by", "ticket 4")

    record = ErasureRecord.objects.get()
    assert output.startswith(
        f"Nothing to erase for 91********10: no lead or ledger row holds it. Recorded as erasure {record.pk}"
    )
    assert (record.leads_erased, record.deliveries_erased) == (0, 0)
    assert Lead.objects.get().name == "Ravi Kumar"


def test_erasing_twice_finds_nothing_the_second_time(make_lead):
    make_lead(phone_number="9876543210")
    erase("9876543210", "--requested-by", "ticket 5")

    assert erase("9876543210", "--requested-by", "ticket 5").startswith("Nothing to erase")


def test_who_asked_is_required():
    with pytest.raises(CommandError, match="--requested-by"):
        call_command("erase_buyer", "9876543210", stdout=StringIO())
    with pytest.raises(CommandError, match="must say who asked"):
        call_command("erase_buyer", "9876543210", "--requested-by", " ", stdout=StringIO())
    assert not ErasureRecord.objects.exists()


def test_text_without_digits_is_refused():
    with pytest.raises(CommandError, match="has no digits"):
        call_command("erase_buyer", "Ravi", "--requested-by", "ticket 6", stdout=StringIO())


def multipart(part_headers: str, part_body: bytes) -> tuple[bytes, str]:
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="name"\r\n\r\nRavi\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="mobile"\r\n'
        + part_headers.encode()
        + b"\r\n\r\n"
        + part_body
        + b"\r\n--b0undary--\r\n"
    )
    return body, 'multipart/form-data; boundary="b0undary"'


BUYER_JSON = {"name": "Ravi", "mobile": "+91 98765 43210"}
ESCAPED = "".join(f"\\u{ord(char):04x}" for char in "9876543210")


@pytest.mark.parametrize(
    ("body", "content_type", "content_encoding"),
    [
        pytest.param(b'{"name": "Ravi", "mobile": "98765/43210"}', "application/json", "", id="slash"),
        pytest.param(b'{"name": "Ravi", "mobile": "98765 / 43210"}', "application/json", "", id="spaced-slash"),
        pytest.param(f'{{"name": "Ravi", "mobile": "{ESCAPED}"}}'.encode(), "application/json", "", id="json-escapes"),
        pytest.param(
            f'{{"name": "Ravi", "mobile": "{ESCAPED}"'.encode(), "application/json", "", id="escapes-in-bad-json"
        ),
        pytest.param(
            *multipart("Content-Transfer-Encoding: base64", base64.b64encode(b"+91 98765 43210")), "", id="base64-part"
        ),
        pytest.param(
            *multipart("Content-Transfer-Encoding: quoted-printable", b"=39=38=37=36=35=34=33=32=31=30"),
            "",
            id="quoted-printable-part",
        ),
        pytest.param(json.dumps(BUYER_JSON).encode("utf-16"), "application/json", "", id="utf-16-with-bom"),
        pytest.param(json.dumps(BUYER_JSON).encode("utf-16-le"), "application/json", "", id="utf-16le-without-bom"),
        pytest.param(
            gzip.compress(json.dumps(BUYER_JSON).encode("utf-16")), "application/json", "gzip", id="gzip-utf-16"
        ),
        pytest.param(
            zlib.compress(f'{{"name": "Ravi", "mobile": "{ESCAPED}"}}'.encode()),
            "application/json",
            "deflate",
            id="deflate-escapes",
        ),
    ],
)
def test_a_refused_body_holding_the_phone_in_any_form_is_erased(body, content_type, content_encoding):
    delivery = refused(body, content_type=content_type, content_encoding=content_encoding)
    untouched = refused(b'{"name": "Asha", "mobile": "98765/43211"}')

    output = erase("09876543210", "--requested-by", "ticket 7")

    delivery.refresh_from_db()
    assert bytes(delivery.body) == b"[erased]"
    assert "1 ledger rows" in output
    assert bytes(Delivery.objects.get(pk=untouched.pk).body) == bytes(untouched.body)


def test_partner_ids_idempotency_keys_and_error_texts_that_name_the_buyer_are_erased(make_lead):
    lead = make_lead(phone_number="9876543210", name="Rajesh Kumar", partner_lead_id="CD-777")
    stored = Delivery.objects.create(
        platform="CarDekho", status_code=201, outcome="created", lead=lead, partner_lead_id="CD-777"
    )
    idem = refused(b'{"customer": "Rajesh", "mob": "98765/43210"}', partner_lead_id="idem-1")
    named_key = refused(b"", partner_lead_id="retry-9876543210")
    error = refused(b"", error='Content-Type must be application/json, not "rajesh/kumar"')
    kept = refused(b'{"name": "Asha"}', partner_lead_id="idem-2", error="Missing required fields: phone_number")

    output = erase("9876543210", "--requested-by", "ticket 8")

    lead.refresh_from_db()
    assert lead.partner_lead_id == ""
    assert [Delivery.objects.get(pk=d.pk).partner_lead_id for d in (stored, idem, named_key)] == ["", "", ""]
    assert Delivery.objects.get(pk=error.pk).error == "[erased]"
    kept.refresh_from_db()
    assert (kept.partner_lead_id, kept.error) == ("idem-2", "Missing required fields: phone_number")
    assert "Erased 1 leads, 4 ledger rows," in output


def test_other_buyers_ids_and_errors_sharing_a_word_or_letters_of_the_name_are_kept(make_lead):
    make_lead(phone_number="9876543210", name="Md Customer Rafiq", partner_lead_id="CD-1")
    others_id = refused(b'{"name": "Asha"}', partner_lead_id="ab12md34")
    others_error = refused(b'{"name": "Asha"}', error="Missing required fields: customer_name")

    erase("9876543210", "--requested-by", "ticket 10")

    others_id.refresh_from_db()
    others_error.refresh_from_db()
    assert (others_id.partner_lead_id, others_error.error) == ("ab12md34", "Missing required fields: customer_name")
    assert bytes(others_id.body) == b'{"name": "Asha"}'


def test_the_buyers_notes_and_transliterated_name_are_erased(make_lead, admin_user):
    lead = make_lead(phone_number="9876543210", name="राजेश कुमार")
    LeadNote.objects.create(lead=lead, author=admin_user, text="Rajesh wants the Hector in red")
    assert Lead.objects.get(pk=lead.pk).name_latin  # the search column holds the name in Latin letters

    erase("9876543210", "--requested-by", "ticket 11")

    lead.refresh_from_db()
    assert (lead.name, lead.name_latin) == ("[erased]", "")
    assert list(LeadNote.objects.filter(lead=lead).values_list("text", "author")) == [("[erased]", admin_user.pk)]


def test_an_export_filtered_by_the_buyers_name_or_phone_loses_its_filter(make_lead, admin_user):
    make_lead(phone_number="9876543210", name="Rajesh Kumar")
    by_name = ExportRecord.objects.create(user=admin_user, username="admin", kind="filtered", query="q=rajesh")
    by_phone = ExportRecord.objects.create(user=admin_user, username="admin", kind="filtered", query="q=98765%2F43210")
    other = ExportRecord.objects.create(user=admin_user, username="admin", kind="filtered", query="q=Asha&status=new")

    output = erase("9876543210", "--requested-by", "ticket 9")

    assert [ExportRecord.objects.get(pk=e.pk).query for e in (by_name, by_phone, other)] == [
        "[erased]",
        "[erased]",
        "q=Asha&status=new",
    ]
    assert "2 export filters" in output


def test_the_phone_is_kept_only_as_a_keyed_digest(make_lead, settings):
    make_lead(phone_number="9876543210")

    erase("+91 98765 43210", "--requested-by", "ticket 10")

    kept = ErasedPhone.objects.get()
    assert "9876543210" not in kept.digest
    assert (
        kept.digest
        == hmac.new(
            hashlib.sha256(b"leads.ErasedPhone" + settings.SECRET_KEY.encode()).digest(), b"919876543210", "sha256"
        ).hexdigest()
    )
    assert ErasedPhone.objects.of("919876543210").get() == kept
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated", [settings.SECRET_KEY]
    assert ErasedPhone.objects.of("919876543210").get() == kept  # still known after a rotation with a fallback


def test_the_same_partner_lead_id_sent_again_after_the_erasure_is_a_new_lead(post_lead):
    first = post_lead(CARDEKHO, {"name": "Rajesh", "phone_number": "9876543210", "lead_id": "CD-900"})
    erase("9876543210", "--requested-by", "ticket 11")

    again = post_lead(CARDEKHO, {"name": "Rajesh", "phone_number": "9876543210", "lead_id": "CD-900"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] != first.json()["id"]
    assert Lead.objects.get(public_id=again.json()["id"]).name == "Rajesh"
