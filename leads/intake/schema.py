"""OpenAPI for the webhooks, built from the partner registry and the answer table (drf-spectacular)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from leads.intake.aliases import Aliases, partner_aliases
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


# Fields a partner's system may well send as numbers.
NUMERIC_FIELDS = ("phone_number", "partner_lead_id")
REQUEST_MEDIA_TYPES = ("application/json", FORM, MULTIPART)


def request_schema(partner: Partner, aliases: Aliases) -> dict[str, Any]:
    """The request body: every alias of every field (the guide's, the common spellings, then those added,
    leads.intake.aliases), and the name's parts."""
    properties: dict[str, Any] = {}
    for field, names in aliases.items():
        for rank, alias in enumerate(names, start=1):
            properties[alias] = {
                **(
                    {"oneOf": [{"type": "string"}, {"type": "number"}]}
                    if field in NUMERIC_FIELDS
                    else {"type": "string"}
                ),
                "nullable": True,
                "description": f"Stored as `{field}`: alias {rank} of {len(names)} "
                f"({', '.join(names)}); the first non-blank one wins.",
            }
    name_parts = (*FIRST_NAME_ALIASES, *LAST_NAME_ALIASES)
    for alias in name_parts:
        properties[alias] = {
            "type": "string",
            "nullable": True,
            "description": "With no `name` alias: the first name and the last name, each under any of "
            f"({', '.join(FIRST_NAME_ALIASES)}) and ({', '.join(LAST_NAME_ALIASES)}), make `name`.",
        }
    required = [
        {"anyOf": [{"required": [alias]} for alias in (*aliases[field], *(name_parts if field == "name" else ()))]}
        for field in REQUIRED_FIELDS
    ]
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": True,
        "allOf": required,
        "description": "Any other properties are kept in the lead's payload for audit. Property names are matched "
        "ignoring case and separators (`Phone_Number`, `phoneNumber` and `phone number` are `phone_number`). "
        "With no name or no phone among them, one object under `lead`, `data`, `enquiry`, `customer` or "
        "`contact` (or a list of just one), or PHP form keys such as `lead[name]`, is read as the lead. "
        'A phone may be an object: `{"number": "9876543210", "country_code": "91"}`.',
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
        },
        "required": ["message", "id", "duplicate"],
    }


def partner_schema(partner: Partner) -> Any:
    responses: dict[int, OpenApiResponse] = {
        201: OpenApiResponse(
            response=success_schema(partner),
            description="The lead is committed, or was already (the same phone within the dedupe window, or your "
            "lead id or Idempotency-Key with the same phone at any time). Do not retry.",
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
        request={media_type: request_schema(partner, partner.accepted_aliases) for media_type in REQUEST_MEDIA_TYPES},
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
        schema = request_schema(partner, aliases)
        for path in (partner.path, partner.v1_path):
            operation = result["paths"].get(path, {}).get("post")
            if operation:
                for content in operation["requestBody"]["content"].values():
                    content["schema"] = schema
    return result
