"""The partners' printable integration guide, built from the registry and the live settings."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from leads.intake.aliases import partner_aliases
from leads.intake.contract import ERROR_ANSWERS, RETRY_RULE
from leads.partners import (
    FIRST_NAME_ALIASES,
    LAST_NAME_ALIASES,
    LEAD_FIELDS,
    PARTNERS,
    PHONE_CODE_KEYS,
    PHONE_NUMBER_KEYS,
    REQUIRED_FIELDS,
    WRAPPER_KEYS,
    get_partner,
)

KEY_PLACEHOLDER = "<your partner key>"


def integration_index(request: HttpRequest) -> HttpResponse:
    return render(request, "docs/integration_index.html", {"partners": PARTNERS})


def integration_guide(request: HttpRequest, slug: str) -> HttpResponse:
    partner = get_partner(slug)
    if partner is None:
        raise Http404("No such partner")
    sample = json.dumps(dict(partner.sample), indent=2, ensure_ascii=False)
    aliases = partner_aliases(partner)
    base_url = settings.PUBLIC_BASE_URL.rstrip("/")
    context = {
        "partner": partner,
        "base_url": base_url,
        "endpoint": f"{base_url}{partner.path}",
        "v1_endpoint": f"{base_url}{partner.v1_path}",
        # Each row: the guide's own aliases as its §5 table lists them, then the others read after them.
        "fields": [
            {
                "column": field,
                "aliases": partner.aliases[field],
                "also": aliases[field][len(partner.aliases[field]) :],
                "required": field in REQUIRED_FIELDS,
            }
            for field in LEAD_FIELDS
        ],
        "first_name_aliases": FIRST_NAME_ALIASES,
        "last_name_aliases": LAST_NAME_ALIASES,
        "wrapper_keys": WRAPPER_KEYS,
        "phone_number_keys": PHONE_NUMBER_KEYS,
        "phone_code_keys": PHONE_CODE_KEYS,
        "sample": sample,
        "curl": (
            f"curl -X POST {base_url}{partner.path} \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -H 'X-API-Key: {KEY_PLACEHOLDER}' \\\n"
            f"  -d '{json.dumps(dict(partner.sample), ensure_ascii=False)}'"
        ),
        "success": json.dumps(
            {"message": partner.success_message, "id": "6f1c2d3e-…", "duplicate": False}, indent=2, ensure_ascii=False
        ),
        "errors": ERROR_ANSWERS,
        "retry_rule": RETRY_RULE,
        "soft_limit": settings.LEAD_RATE_LIMIT_SOFT,
        "hard_limit": settings.LEAD_RATE_LIMIT_HARD,
        "dedupe_seconds": settings.LEAD_DEDUPE_WINDOW_SECONDS,
        "max_body_kib": settings.LEAD_MAX_BODY_BYTES // 1024,
        "max_batch": settings.LEAD_MAX_BATCH_LEADS,
        "support_email": settings.SUPPORT_EMAIL,
        "integration_email": settings.INTEGRATION_EMAIL,
    }
    return render(request, "docs/integration_guide.html", context)
