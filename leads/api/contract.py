"""The answers the webhooks give, in one table the OpenAPI schema and the printable guide both read."""

from __future__ import annotations

from dataclasses import dataclass

from leads.api.exceptions import INTERNAL_ERROR, UNAVAILABLE


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    example: str
    meaning: str
    retry: str


ERROR_ANSWERS: tuple[ErrorAnswer, ...] = (
    ErrorAnswer(
        400,
        "Missing required fields: name",
        "A required field is missing, null, empty or blank, or the body is neither a JSON object nor form "
        "fields in UTF-8 (or the charset it declares); the message says which.",
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
        'Content-Type must be application/json, not "text/plain"',
        "The body is not declared as JSON.",
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

RETRYABLE_STATUSES = tuple(answer.status for answer in ERROR_ANSWERS if answer.retry.startswith("Yes"))
