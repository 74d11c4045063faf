"""The answers the webhooks give, in one table the OpenAPI schema and the printable guide both read."""

from __future__ import annotations

import json
from dataclasses import dataclass

from leads.intake.exceptions import INTERNAL_ERROR, UNAVAILABLE


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    example: str
    meaning: str
    retry: str

    @property
    def body(self) -> str:
        """The answer's body as sent: JSON, with any quote in the message escaped."""
        return json.dumps({"error": self.example}, ensure_ascii=False)


ERROR_ANSWERS: tuple[ErrorAnswer, ...] = (
    ErrorAnswer(
        400,
        "Missing required fields: name",
        "A required field is missing, null, empty or blank, or the body is neither a JSON object nor form "
        "fields; the message says which.",
        "No: fix the request.",
    ),
    ErrorAnswer(401, "Missing API key", "The X-API-Key header is absent or empty.", "No: add the header."),
    ErrorAnswer(
        403,
        "Invalid API key",
        "The key is not an active key of this partner.",
        "No: check the key, or ask us for a new one.",
    ),
    ErrorAnswer(404, "Unknown partner: olx", "The path names no partner.", "No: check the URL."),
    ErrorAnswer(405, 'Method "GET" not allowed.', "Only POST is accepted; see the Allow header.", "No: use POST."),
    ErrorAnswer(
        413,
        "Request body is larger than the 65536-byte limit",
        "The body is over the size limit.",
        "No: send a smaller body.",
    ),
    ErrorAnswer(
        415,
        'Content-Type must be application/json, not "application/xml"',
        "The body is neither a JSON object nor form fields, and is declared as something else (XML, say).",
        "No: send Content-Type: application/json.",
    ),
    ErrorAnswer(
        429,
        "Rate limit exceeded",
        "Over the hard ceiling, or too many failed keys from one address.",
        "Yes, after the Retry-After seconds.",
    ),
    ErrorAnswer(500, INTERNAL_ERROR, "Unexpected server issue; we are alerted.", "Yes, with exponential backoff."),
    ErrorAnswer(
        503, UNAVAILABLE, "Storage is briefly unreachable; nothing was stored.", "Yes, after the Retry-After seconds."
    ),
)

# Guide §6: partners retry on 5xx. Some never come from us: 502 or 504 from the hosting's edge while the app
# restarts, before any request reaches it (so no ledger row keeps the lead). And on our 429, after Retry-After.
RETRY_RULE = (
    "429 and every 5xx ("
    + ", ".join(str(answer.status) for answer in ERROR_ANSWERS if answer.status >= 500)
    + " from us; 502 or 504 from our hosting while it restarts)"
)
