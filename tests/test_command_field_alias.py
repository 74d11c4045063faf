"""field_alias: a partner's renamed field is mapped without a release, and the guide's aliases stay first."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from leads.intake.aliases import partner_aliases
from leads.models import FieldAlias, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db


def field_alias(*args: str) -> str:
    out = io.StringIO()
    call_command("field_alias", *args, stdout=out)
    return out.getvalue()


def test_an_added_alias_follows_the_guides_and_the_common_spellings_in_the_order_added():
    field_alias("add", "carwale", "phone_number", "buyer_mobile")
    field_alias("add", "CarWale", "phone_number", "cell")

    assert partner_aliases(CARWALE)["phone_number"] == (
        *CARWALE.accepted_aliases["phone_number"],
        "buyer_mobile",
        "cell",
    )
    assert partner_aliases(CARDEKHO)["phone_number"] == CARDEKHO.accepted_aliases["phone_number"]


def test_a_lead_using_an_added_alias_is_stored(post_lead):
    refused = post_lead(CARWALE, {"customer_name": "Sunita", "buyer_mobile": "9123456780"})
    field_alias("add", "carwale", "phone_number", "buyer_mobile")

    stored = post_lead(CARWALE, {"customer_name": "Sunita", "buyer_mobile": "9123456780"})

    assert (refused.status_code, stored.status_code) == (400, 201)
    assert Lead.objects.get().phone_e164 == "+919123456780"


def test_a_guide_alias_still_wins_over_an_added_one(post_lead):
    field_alias("add", "carwale", "phone_number", "buyer_mobile")

    post_lead(CARWALE, {"customer_name": "Sunita", "mobile": "9123456780", "buyer_mobile": "9000000000"})

    assert Lead.objects.get().phone_number == "9123456780"


def test_list_marks_the_added_aliases():
    field_alias("add", "carwale", "car_model", "variant")

    out = field_alias("list", "carwale")

    assert "car_model: vehicle_model, car_model, model, variant (added)" in out
    assert out.splitlines()[-1] == "CarWale: 1 added alias(es) after the guide's."


def test_remove_takes_an_added_alias_away():
    field_alias("add", "carwale", "car_model", "variant")

    out = field_alias("remove", "carwale", "variant")

    assert "'variant' no longer fills car_model" in out
    assert not FieldAlias.objects.exists()
    assert "variant" not in partner_aliases(CARWALE)["car_model"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "carwale", "name", "mobile"), "'mobile' is already one of the guide's aliases of phone_number"),
        (
            ("remove", "carwale", "mobile"),
            "'mobile' is not an added alias of CarWale; the guide's own cannot be removed",
        ),
        (("add", "olx", "name", "n"), "Unknown partner 'olx'"),
    ],
)
def test_mistakes_get_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        field_alias(*args)


def test_one_alias_cannot_fill_two_fields():
    field_alias("add", "carwale", "car_model", "variant")

    with pytest.raises(CommandError, match="'variant' is already an alias of car_model for CarWale"):
        field_alias("add", "carwale", "campaign", "variant")


def test_the_printable_guide_lists_an_added_alias_after_the_guides(client):
    field_alias("add", "carwale", "phone_number", "buyer_mobile")

    page = client.get("/docs/integration/carwale/").content.decode()

    assert "<code>phone</code><br>" in page  # the guide's own row as it was
    assert "<code>customer_mobile</code>, <code>buyer_mobile</code>" in page


def test_the_openapi_schema_lists_an_added_alias(client):
    field_alias("add", "carwale", "phone_number", "buyer_mobile")

    schema = client.get("/api/schema/?format=json").json()

    body = schema["paths"][CARWALE.path]["post"]["requestBody"]["content"]
    json_lead = body["application/json"]["schema"]["anyOf"][0]  # one lead, before the batches
    for lead in (json_lead, body["application/x-www-form-urlencoded"]["schema"]):
        assert "buyer_mobile" in lead["properties"]
        assert ["buyer_mobile"] in [choice["required"] for choice in lead["allOf"][1]["anyOf"]]
    cardekho = schema["paths"][CARDEKHO.path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "buyer_mobile" not in cardekho["anyOf"][0]["properties"]


def test_adding_says_how_soon_every_process_uses_it(settings):
    settings.LEAD_ALIAS_REFRESH_SECONDS = 30

    said = field_alias("add", "carwale", "phone_number", "buyer_mobile")

    assert "Every process uses it within 30 seconds;" in said


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("Phone-Number", "'Phone-Number' is already one of the guide's aliases of phone_number for CarWale"),
        ("Mobile No", r"'Mobile No' is already read as phone_number for CarWale \(a common spelling\)"),
    ],
)
def test_an_alias_spelling_a_known_one_another_way_is_refused(alias, message):
    with pytest.raises(CommandError, match=message):
        field_alias("add", "carwale", "name", alias)

    assert not FieldAlias.objects.exists()


def test_an_alias_spelling_an_added_one_another_way_is_refused():
    field_alias("add", "carwale", "car_model", "variant")

    with pytest.raises(CommandError, match="'variant' is already an alias of car_model for CarWale"):
        field_alias("add", "carwale", "campaign", "VARIANT")
