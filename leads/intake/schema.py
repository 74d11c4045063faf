"""OpenAPI for the webhooks, built from the partner registry and the answer table (drf-spectacular)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from leads.intake.aliases import Aliases, partner_aliases
from leads.intake.batches import PARTLY_STORED_STATUS
from leads.intake.contract import ERROR_ANSWERS, RETRY_RULE
from leads.intake.parsing import FORM, MULTIPART
from leads.partners import (
    FIRST_NAME_ALIASES,
    GUIDE_PREFIX,
    LAST_NAME_ALIASES,
    PARTNERS,
    REQUIRED_FIELDS,
    V1_PREFIX,
    Partner,
)

ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
# Headers the answers carry: a retry's wait (429, 503), what is allowed (405); and the request's optional own id.
HEADERS = [
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429, 503],
        description="Seconds to wait before retrying.",
    ),
    OpenApiParameter(
        "Allow", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[405], description="The methods allowed: POST."
    ),
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description="Your own id for this lead, if it has no lead id field: a resend with the same key and phone, "
        "at any later time, is answered 201 with the first lead's id and `duplicate: true`.",
    ),
]


class PartnerApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "leads.intake.authentication.PartnerApiKeyAuthentication"
    name = "PartnerApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "The partner's own key, sent out of band by Raam Group. "
            "Missing: 401. Not this partner's: 403.",
        }


REQUEST_MEDIA_TYPES = ("application/json", FORM, MULTIPART)
# A value that stands for a field: text with something in it besides spaces and control characters (or, in JSON,
# a number). They are what leads.common.text.as_text reads as nothing: str.strip's spaces and
# one_line's breaks, spelled out, as a regex's \s differs between Python, ECMA and Rust (U+001C to U+001F, U+FEFF).
TEXT = {
    "type": "string",
    "pattern": "[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
}


PASSED_OVER = {"description": "Any other value (null, blank, an object): passed over, kept in the payload."}


def _value_schema(field: str) -> dict[str, Any]:
    # Every field reads a number as its digits (leads.common.text.as_text); a phone or an id often is one.
    value: list[dict[str, Any]] = [TEXT, {"type": "number"}]
    # A list (a form field sent twice) stands for its first usable value (leads.intake.mapping): a list with
    # one, in OpenAPI 3.0's words (it has no "contains"): not a list whose every item is unusable.
    some_usable = {"type": "array", "not": {"items": {"not": {"anyOf": value}}}}
    return {"anyOf": [*value, some_usable]}


# A form field (urlencoded or multipart) is only ever text: a number, a null or an object cannot be sent as one,
# so a form's schema claims none of them. Blank text is passed over for the next alias, like any unusable value.
FORM_FIELD: dict[str, Any] = {"type": "string"}


def _any_value(field: str, *, form: bool) -> dict[str, Any]:
    """What an alias may hold: anything a JSON body sends (the unusable passed over), or a form field's text."""
    return FORM_FIELD if form else {"anyOf": [*_value_schema(field)["anyOf"], PASSED_OVER]}


def _usable_value(field: str, *, form: bool) -> dict[str, Any]:
    """What an alias must hold to stand for its field: non-blank text (in JSON, a number or a list of one too)."""
    return TEXT if form else _value_schema(field)


def request_schema(partner: Partner, aliases: Aliases, *, form: bool = False) -> dict[str, Any]:
    """One lead: every alias of every field (the guide's, the common spellings, then those added,
    leads.intake.aliases), and the name's parts.

    In JSON each alias is a string (or a number: every field reads one as its digits). But a lead is never refused
    over one: a value that is null, blank or no text (an object, say) is passed over for the next alias and kept in
    the payload, so the schema says so (a last, open choice) rather than promise a refusal the server never gives.
    In a form (``form``) every field is text, and the schema says that alone. What a lead needs is that each
    required field has one alias holding its kind of value: non-blank text, or in JSON a number too.
    """
    properties: dict[str, Any] = {}
    for field, names in aliases.items():
        for rank, alias in enumerate(names, start=1):
            properties[alias] = {
                "description": f"Stored as `{field}`: alias {rank} of {len(names)} "
                f"({', '.join(names)}); the first non-blank one wins.",
                **_any_value(field, form=form),
            }
    name_parts = (*FIRST_NAME_ALIASES, *LAST_NAME_ALIASES)
    for alias in name_parts:
        properties[alias] = {
            "description": "With no `name` alias: the first name and the last name, each under any of "
            f"({', '.join(FIRST_NAME_ALIASES)}) and ({', '.join(LAST_NAME_ALIASES)}), make `name`.",
            **_any_value("name", form=form),
        }
    required = []
    for field in REQUIRED_FIELDS:
        accepted = (*aliases[field], *(name_parts if field == "name" else ()))
        required.append(
            {
                "description": f"`{field}`: one of {', '.join(accepted)}, non-blank.",
                "anyOf": [
                    {"required": [alias], "properties": {alias: _usable_value(field, form=form)}} for alias in accepted
                ],
            }
        )
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": FORM_FIELD if form else True,
        "allOf": required,
        "description": (FORM_DESCRIPTION if form else JSON_DESCRIPTION) + NAMES_DESCRIPTION,
    }


JSON_DESCRIPTION = (
    "Any other properties are kept in the lead's payload for audit. "
    "With no name or no phone among them, one object under `lead`, `data`, `enquiry`, `customer` or "
    "`contact` (or a list of just one) is read as the lead. "
    'A phone may be an object: `{"number": "9876543210", "country_code": "91"}`. '
)
FORM_DESCRIPTION = (
    "Form fields, each of them text; a blank one is passed over for the next alias, and a field sent twice is "
    "read from its first non-blank value. Any other fields are kept in the lead's payload for audit. "
    "PHP-style keys (`lead[name]`, `lead[phone][number]`, `lead[phone][country_code]`) are read as that nesting "
    "when the form's own fields give no name or no phone. "
)
NAMES_DESCRIPTION = (
    "Property names are matched ignoring case and separators (`Phone_Number`, `phoneNumber` and `phone number` "
    "are `phone_number`)."
)


def batch_request_schema(partner: Partner, aliases: Aliases) -> dict[str, Any]:
    """One lead, or a batch of them (leads.intake.batches): a JSON array, or an object holding only ``leads``."""
    lead = request_schema(partner, aliases)
    leads = {"type": "array", "items": lead, "minItems": 1, "maxItems": settings.LEAD_MAX_BATCH_LEADS}
    return {
        "description": f"One lead, or a batch of up to {settings.LEAD_MAX_BATCH_LEADS}: an array of leads, "
        '`{"leads": [...]}`, or NDJSON (one lead object a line, `Content-Type: application/x-ndjson`).',
        "anyOf": [
            lead,
            {**leads, "description": "A batch: each lead stored as it would be alone."},
            {
                "type": "object",
                "properties": {"leads": leads},
                "required": ["leads"],
                "additionalProperties": False,
                "description": "A batch under `leads`, its only property.",
            },
        ],
    }


def request_body(partner: Partner, aliases: Aliases) -> dict[str, Any]:
    return {
        media_type: batch_request_schema(partner, aliases)
        if media_type == "application/json"
        else request_schema(partner, aliases, form=True)
        for media_type in REQUEST_MEDIA_TYPES
    }


def success_schema(partner: Partner) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "message": {"type": "string", "enum": [partner.success_message]},
            "id": {"type": "string", "format": "uuid", "description": "The lead's id."},
            "duplicate": {
                "type": "boolean",
                "description": f"True when the same phone arrived from {partner.name} within "
                f"{settings.LEAD_DEDUPE_WINDOW_SECONDS} s, or your lead id came before with the same phone; "
                "`id` is then the first lead's.",
            },
            "results": {"description": "Only for a batch of one: its one result.", **RESULTS_SCHEMA},
        },
        "required": ["message", "id", "duplicate"],
    }


RESULT_SCHEMA = {
    "type": "object",
    "description": "A stored lead's id and duplicate flag (as for a single lead), or why it was refused.",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "duplicate": {"type": "boolean"},
        "error": {"type": "string"},
    },
    "anyOf": [{"required": ["id", "duplicate"]}, {"required": ["error"]}],
}
RESULTS_SCHEMA = {"type": "array", "items": RESULT_SCHEMA, "description": "Each lead's result, in the order sent."}
BATCH_SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "results": RESULTS_SCHEMA},
    "required": ["message", "results"],
}


def partner_schema(partner: Partner) -> Any:
    responses: dict[int, OpenApiResponse] = {
        201: OpenApiResponse(
            response={"anyOf": [success_schema(partner), BATCH_SCHEMA]},
            description="The lead is committed, or was already (the same phone within the dedupe window, or your "
            "lead id or Idempotency-Key with the same phone at any time). Do not retry. For a batch, every lead "
            "of it is, each with its result in `results`.",
            examples=[
                OpenApiExample(
                    "Created",
                    {
                        "message": partner.success_message,
                        "id": "6f1c2d3e-0000-4000-8000-000000000000",
                        "duplicate": False,
                    },
                )
            ],
        )
    }
    responses[PARTLY_STORED_STATUS] = OpenApiResponse(
        response=BATCH_SCHEMA,
        description="A batch some of whose leads were stored and some refused, each with its result in `results` "
        "in the order sent. The refused are kept for us to replay. Do not retry the stored ones.",
    )
    for answer in ERROR_ANSWERS:
        responses[answer.status] = OpenApiResponse(
            response=ERROR_SCHEMA,
            description=f"{answer.meaning} Retry: {answer.retry}",
            examples=[OpenApiExample(f"{answer.status}", {"error": answer.example})],
        )
    return extend_schema(
        summary=f"Send a {partner.name} lead",
        description=(
            f"Stores one prospective buyer from {partner.name}. Required: a name and a phone number, under any of "
            f"their aliases. Retry on {RETRY_RULE}, with backoff, honouring Retry-After; every other answer is "
            f"final. Soft limit {settings.LEAD_RATE_LIMIT_SOFT} (leads above it are still accepted), hard ceiling "
            f"{settings.LEAD_RATE_LIMIT_HARD}."
        ),
        tags=[partner.name],
        request=request_body(partner, partner.accepted_aliases),
        responses=responses,
        parameters=HEADERS,
        examples=[OpenApiExample("Guide sample", dict(partner.sample), request_only=True)],
    )


def strip_optional_slash(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The webhook routes take an optional trailing slash; publish them as the guide writes them."""
    webhook_prefixes = (f"/{GUIDE_PREFIX}/", f"/{V1_PREFIX}/")
    result["paths"] = {
        path.rstrip("/") if path.startswith(webhook_prefixes) else path: item for path, item in result["paths"].items()
    }
    return result


def publish_added_aliases(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The request bodies with the aliases admins added since the code was written (leads.intake.aliases)."""
    for partner in PARTNERS:
        try:
            aliases = partner_aliases(partner)
        except DatabaseError:  # `manage.py check` builds the schema, perhaps before `migrate`
            aliases = partner.accepted_aliases
        schemas = request_body(partner, aliases)
        for path in (partner.path, partner.v1_path):
            operation = result["paths"].get(path, {}).get("post")
            if operation:
                operation["requestBody"]["required"] = True  # an empty body is refused (400)
                for media_type, content in operation["requestBody"]["content"].items():
                    content["schema"] = schemas[media_type]
    return result
