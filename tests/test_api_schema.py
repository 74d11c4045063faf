"""The OpenAPI schema and its rendered reference describe the webhooks the way the guide does."""

from __future__ import annotations

import re

import pytest

from leads.intake.contract import ERROR_ANSWERS
from leads.partners import FIRST_NAME_ALIASES, LAST_NAME_ALIASES, PARTNERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_schema_describes_both_endpoints_and_their_v1_aliases(schema):
    assert set(schema["paths"]) == {p.path for p in PARTNERS} | {p.v1_path for p in PARTNERS}
    for partner in PARTNERS:
        assert set(schema["paths"][partner.path]) == {"post"}


def test_schema_declares_the_x_api_key_scheme(schema):
    (scheme,) = schema["components"]["securitySchemes"].values()
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for partner in PARTNERS:
        assert schema["paths"][partner.path]["post"]["security"] == [{"PartnerApiKey": []}]


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_every_alias_is_in_the_request_body_in_priority_order(schema, partner):
    body = lead_schema(schema, partner)
    for field, aliases in partner.accepted_aliases.items():
        assert aliases[: len(partner.aliases[field])] == partner.aliases[field]  # the guide's first
        for rank, alias in enumerate(aliases, start=1):
            assert f"Stored as `{field}`: alias {rank} of {len(aliases)}" in body["properties"][alias]["description"]
    assert body["additionalProperties"] is True


def lead_schema(schema, partner):
    body = schema["paths"][partner.path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return body["anyOf"][0]


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_the_body_is_required_and_each_required_field_is_one_non_blank_alias(schema, partner):
    request = schema["paths"][partner.path]["post"]["requestBody"]
    name, phone = lead_schema(schema, partner)["allOf"]

    assert request["required"] is True
    name_parts = (*FIRST_NAME_ALIASES, *LAST_NAME_ALIASES)
    accepted_names = [*partner.accepted_aliases["name"], *name_parts]
    assert [choice["required"] for choice in name["anyOf"]] == [[alias] for alias in accepted_names]
    first = partner.aliases["name"][0]
    text = name["anyOf"][0]["properties"][first]["anyOf"][0]
    assert text["type"] == "string"
    assert re.search(text["pattern"], "Ravi")
    assert not re.search(text["pattern"], " \t\u00a0")
    accepted_phones = partner.accepted_aliases["phone_number"]
    assert [choice["required"] for choice in phone["anyOf"]] == [[alias] for alias in accepted_phones]
    for alias in partner.aliases["name"]:
        assert "nullable" not in lead_schema(schema, partner)["properties"][alias]


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_lead_ids_are_strings_or_numbers(schema, partner):
    for alias in partner.aliases["partner_lead_id"]:
        kinds = lead_schema(schema, partner)["properties"][alias]["anyOf"]
        assert [kind.get("type") for kind in kinds[:2]] == ["string", "number"]


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_batches_are_described(schema, partner):
    body = schema["paths"][partner.path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    lead, array, wrapped = body["anyOf"]

    assert array["type"] == "array" and array["items"] == lead and array["maxItems"] == 100
    assert wrapped["required"] == ["leads"] and wrapped["properties"]["leads"]["items"] == lead


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_every_status_code_has_its_body_and_retry_advice(schema, partner):
    responses = schema["paths"][partner.path]["post"]["responses"]

    assert set(responses) == {"201", "207"} | {str(answer.status) for answer in ERROR_ANSWERS}
    single, batch = responses["201"]["content"]["application/json"]["schema"]["anyOf"]
    assert single["properties"]["message"]["enum"] == [partner.success_message]
    assert batch["required"] == ["message", "results"]
    assert responses["207"]["content"]["application/json"]["schema"] == batch
    for answer in ERROR_ANSWERS:
        response = responses[str(answer.status)]
        assert response["content"]["application/json"]["schema"]["required"] == ["error"]
        assert f"Retry: {answer.retry}" in response["description"]
    # Guide §6: retry on 5xx, including those our hosting's edge answers while the app restarts.
    assert (
        "Retry on 429 and every 5xx (500, 503 from us; 502 or 504 from our hosting while it restarts)"
        in schema["paths"][partner.path]["post"]["description"]
    )


def test_rendered_reference_uses_only_local_assets(client):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui" in html
    external = [url for url in re.findall(r'(?:src|href)="([^"]+)"', html) if url.startswith(("http:", "https:", "//"))]
    assert external == []
    assert "cdn" not in html.lower()


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_the_headers_a_partner_sends_and_gets_are_described(schema, partner):
    operation = schema["paths"][partner.path]["post"]

    (idempotency,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    assert idempotency["in"] == "header" and not idempotency.get("required", False)
    for status, header in (("429", "Retry-After"), ("503", "Retry-After"), ("405", "Allow")):
        assert header in operation["responses"][status]["headers"], (status, header)


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
def test_the_common_spellings_and_the_names_parts_are_in_the_request_body(schema, partner):
    body = lead_schema(schema, partner)

    for alias in ("mobile_no", "mobile_number", "contact_no", "customer_mobile", "full_name", "first_name", "lname"):
        assert alias in body["properties"]
    name, phone = body["allOf"]
    assert ["first_name"] in [choice["required"] for choice in name["anyOf"]]
    assert ["mobile_no"] in [choice["required"] for choice in phone["anyOf"]]


@pytest.mark.parametrize("partner", PARTNERS, ids=lambda p: p.slug)
@pytest.mark.parametrize("media_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_forms_fields_are_text_and_it_claims_nothing_a_form_cannot_carry(schema, partner, media_type):
    body = schema["paths"][partner.path]["post"]["requestBody"]["content"][media_type]["schema"]
    name, phone = body["allOf"]

    # A form field is text whatever it spells: not a number, a null, a list of values or an object.
    assert {kind for prop in body["properties"].values() for kind in [prop.get("type")]} == {"string"}
    assert not any("anyOf" in prop or "nullable" in prop for prop in body["properties"].values())
    assert body["additionalProperties"] == {"type": "string"}
    for field, choices in (("name", name), ("phone_number", phone)):
        for choice in choices["anyOf"]:
            (alias,) = choice["required"]
            text = choice["properties"][alias]
            assert text["type"] == "string", (field, alias)
            assert re.search(text["pattern"], "98765 43210") and not re.search(text["pattern"], " \t\u00a0")
    assert ["customer_name"] in [choice["required"] for choice in name["anyOf"]]
    assert ["mobile"] in [choice["required"] for choice in phone["anyOf"]]
