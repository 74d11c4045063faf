"""Issue 24 (items 1 and 3), against the server as render.yaml starts it: leads wrapped in an object, and field
names in another case or style, are stored with the right fields."""

from __future__ import annotations

from leads.models import Lead
from leads.partners import CARDEKHO, CARWALE
from tests.servers import gunicorn, post_json, server_env

KEYS = {"LEAD_API_KEY_CARDEKHO": "spellings-cardekho-key", "LEAD_API_KEY_CARWALE": "spellings-carwale-key"}


def test_leads_under_a_wrapper_and_in_other_spellings_are_stored_with_the_right_fields():
    sent = [
        (CARDEKHO, {"lead": {"name": "Ravi Kumar", "phone_number": "9876543210", "car_model": "Hector"}}),
        (CARWALE, {"data": {"customer_name": "Sunita Rao", "mobile": "9123456780"}, "campaign": "Creta"}),
        (CARDEKHO, {"Name": "Asha Menon", "Phone_Number": "9000000001"}),
        (CARDEKHO, {"NAME": "Vikram Shah", "PHONE": "9000000002"}),
        (CARWALE, {"CustomerName": "Meera Iyer", "Mobile": "9000000003"}),
        (CARWALE, {"first_name": "Arjun", "last_name": "Das", "mobile_no": "9000000004"}),
    ]
    with gunicorn(server_env(**KEYS)) as base:
        answers = [
            post_json(f"{base}{partner.path}", payload, key=KEYS[f"LEAD_API_KEY_{partner.slug.upper()}"])
            for partner, payload in sent
        ]

    assert [(status, body.get("duplicate")) for status, body, _ in answers] == [(201, False)] * len(sent)
    stored = {lead.name: lead for lead in Lead.objects.all()}
    assert {name: (lead.platform, lead.phone_e164) for name, lead in stored.items()} == {
        "Ravi Kumar": ("CarDekho", "+919876543210"),
        "Sunita Rao": ("CarWale", "+919123456780"),
        "Asha Menon": ("CarDekho", "+919000000001"),
        "Vikram Shah": ("CarDekho", "+919000000002"),
        "Meera Iyer": ("CarWale", "+919000000003"),
        "Arjun Das": ("CarWale", "+919000000004"),
    }
    assert stored["Ravi Kumar"].car_model == "Hector"
    assert stored["Sunita Rao"].campaign == "Creta"
    assert {str(lead.public_id): lead.payload for lead in stored.values()} == {
        body["id"]: payload for (_, payload), (_, body, _) in zip(sent, answers, strict=True)
    }
