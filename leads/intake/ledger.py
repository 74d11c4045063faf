"""The delivery ledger and the request log line: one of each for every webhook request.

The API layer collects what it learns of a request in a ``DeliveryRequest``; ``delivery_build``
is the one place a ledger row is made from it. A stored lead's row is written by leads.intake.store in
the lead's own transaction; every other answer's row is written by ``delivery_record``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from http import HTTPStatus

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from leads.common import db_locks
from leads.models import Delivery, Lead
from leads.partners import Partner
from raamcrm.limits import Usage
from raamcrm.logs import mask_phone

logger = logging.getLogger("leads.intake.store")

# Guide §4: a stored lead, new or a duplicate, is answered 201 Created.
LEAD_STORED_STATUS = HTTPStatus.CREATED


@dataclass(frozen=True)
class DeliveryRequest:
    """What the API layer knows of one webhook request, gathered as the request is read."""

    partner: Partner | None  # None when the path named no partner
    client_ip: str | None
    request_id: str = ""  # ours (raamcrm.middleware)
    partner_request_id: str = ""  # the X-Request-ID the partner sent, theirs
    is_replay: bool = False  # set by leads.intake.replay only
    key_prefix: str = ""
    body: bytes = b""
    body_truncated: bool = False
    content_type: str = ""
    content_encoding: str = ""
    idempotency_key: str = ""  # the Idempotency-Key header, which stands in for a lead id the body lacks
    over_soft_limit: bool = False
    # How the body was read when it was not as the guide asks ("encoding guessed: windows-1252"), from
    # leads.intake.parsing.reading_notes: a stored lead's row says it where a refused row says its error.
    read_notes: tuple[str, ...] = ()
    started: float = field(default_factory=time.monotonic)

    def with_body(self, body: bytes) -> DeliveryRequest:
        """This request with (the start of) its body, capped at LEAD_LEDGER_BODY_BYTES."""
        cap = settings.LEAD_LEDGER_BODY_BYTES
        return replace(self, body=body[:cap], body_truncated=len(body) > cap)

    @property
    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def outcome_for(status_code: int, *, duplicate: bool = False) -> str:
    if status_code < 300:
        return Delivery.Outcome.DUPLICATE if duplicate else Delivery.Outcome.CREATED
    if status_code in (401, 403):
        return Delivery.Outcome.UNAUTHORISED
    if status_code == 429:
        return Delivery.Outcome.THROTTLED
    if status_code < 500:
        return Delivery.Outcome.REJECTED
    return Delivery.Outcome.ERROR


def delivery_build(
    request: DeliveryRequest, *, status_code: int, error: str = "", lead: Lead | None = None, duplicate: bool = False
) -> Delivery:
    return Delivery(
        platform=request.partner.name if request.partner else "",
        client_ip=request.client_ip,
        key_prefix=request.key_prefix,
        status_code=status_code,
        outcome=outcome_for(status_code, duplicate=duplicate),
        error=error[:255],
        latency_ms=request.latency_ms,
        over_soft_limit=request.over_soft_limit,
        request_id=request.request_id,
        partner_request_id=request.partner_request_id,
        is_replay=request.is_replay,
        lead=lead,
        body=request.body,
        body_truncated=request.body_truncated,
        content_type=request.content_type,
        content_encoding=request.content_encoding,
        # A refused row keeps the request's Idempotency-Key, so that replay stores its lead under that key.
        partner_lead_id=request.idempotency_key[:255],
    )


def stored_lead_row(request: DeliveryRequest, *, partner_lead_id: str) -> Delivery:
    """The ledger row of a request whose lead is stored; leads.intake.store sets its lead and outcome as it stores."""
    row = delivery_build(request, status_code=LEAD_STORED_STATUS, error=stored_note(request))
    row.partner_lead_id = partner_lead_id
    return row


def stored_note(request: DeliveryRequest) -> str:
    """What a stored lead's row says in place of an error: how its body had to be read, if not as the guide asks."""
    return f"Stored; read leniently: {'; '.join(request.read_notes)}" if request.read_notes else ""


def delivery_record(
    request: DeliveryRequest,
    *,
    status_code: int,
    error: str = "",
    lead: Lead | None = None,
    duplicate: bool = False,
    already_stored: bool = False,
    flood: Usage | None = None,
) -> None:
    """Write the request's ledger row (unless it was ``already_stored`` with its lead), then its log line.

    With ``flood`` (the client is over the failed-key limit, or its key over the refused bodies kept), the request
    is counted on that client's latest row with the same answer in the limit's current window, if there is one,
    instead of writing a row of its own: a flood grows the ledger by a row per window, not a row per request.
    A request that keeps no body is counted only on a row that kept none either.

    A failure to write the ledger never changes the answer the partner already has coming;
    the log line then is the record.
    """
    ledger_written = already_stored
    if not already_stored:
        try:
            with transaction.atomic():
                db_locks.lock_timeout(
                    settings.LEAD_STORE_TIMEOUT_SECONDS
                )  # as the lead's own write (leads.intake.store)
                folded = flood is not None and _count_on_recent_row(
                    request, status_code=status_code, error=error, within_seconds=flood.seconds_into_window + 1
                )
                if not folded:
                    row = delivery_build(request, status_code=status_code, error=error, lead=lead, duplicate=duplicate)
                    row.save()
            ledger_written = True
        except DatabaseError as exc:
            logger.error("Could not write the delivery ledger: %s", exc, extra={"partner": _partner_name(request)})
    level = logging.INFO if status_code < 400 else logging.WARNING if status_code < 500 else logging.ERROR
    logger.log(
        level,
        "lead webhook %s %s",
        _partner_name(request) or "unknown-partner",
        status_code,
        extra={
            "partner": _partner_name(request),
            "status": status_code,
            "outcome": outcome_for(status_code, duplicate=duplicate),
            "latency_ms": request.latency_ms,
            "client_ip": request.client_ip,
            "key_prefix": request.key_prefix,
            "partner_request_id": request.partner_request_id,
            "phone": mask_phone(lead.phone_e164 or lead.phone_number) if lead else "",
            "lead_id": str(lead.public_id) if lead else "",
            "error": error,
            "ledger": ledger_written,
        },
    )


def _count_on_recent_row(request: DeliveryRequest, *, status_code: int, error: str, within_seconds: int) -> bool:
    recent = Delivery.objects.filter(
        client_ip=request.client_ip,
        platform=_partner_name(request),
        status_code=status_code,
        error=error[:255],
        body_truncated=request.body_truncated,
        received_at__gte=timezone.now() - timedelta(seconds=within_seconds),
    ).order_by("-received_at")
    if not request.body:  # a kept body is never made to stand for requests whose bodies were not kept
        recent = recent.filter(body=b"")
    return bool(Delivery.objects.filter(pk__in=recent.values("pk")[:1]).update(repeats=F("repeats") + 1))


def _partner_name(request: DeliveryRequest) -> str:
    return request.partner.name if request.partner else ""
