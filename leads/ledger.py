"""The delivery ledger and the request log line: one of each for every webhook request."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError

from leads.models import Delivery, Lead
from raamcrm.logs import mask_phone

logger = logging.getLogger("leads.ingest")


@dataclass
class DeliveryContext:
    """What we know about one webhook request as it moves through the view."""

    platform: str
    client_ip: str | None
    request_id: str = ""
    key_prefix: str = ""
    body: bytes = b""
    body_truncated: bool = False
    over_soft_limit: bool = False
    phone: str = ""
    lead: Lead | None = None
    duplicate: bool = False
    recorded: bool = False  # the success path writes its row inside the lead's transaction
    started: float = field(default_factory=time.monotonic)

    def keep_body(self, body: bytes) -> None:
        cap = settings.LEAD_LEDGER_BODY_BYTES
        self.body = body[:cap]
        self.body_truncated = len(body) > cap

    @property
    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def outcome_for(status_code: int, *, duplicate: bool) -> str:
    if status_code < 300:
        return Delivery.Outcome.DUPLICATE if duplicate else Delivery.Outcome.CREATED
    if status_code in (401, 403):
        return Delivery.Outcome.UNAUTHORISED
    if status_code == 429:
        return Delivery.Outcome.THROTTLED
    if status_code < 500:
        return Delivery.Outcome.REJECTED
    return Delivery.Outcome.ERROR


def delivery_build(*, context: DeliveryContext, status_code: int, error: str = "") -> Delivery:
    return Delivery(
        platform=context.platform,
        client_ip=context.client_ip,
        key_prefix=context.key_prefix,
        status_code=status_code,
        outcome=outcome_for(status_code, duplicate=context.duplicate),
        error=error[:255],
        latency_ms=context.latency_ms,
        over_soft_limit=context.over_soft_limit,
        request_id=context.request_id,
        lead=context.lead,
        body=context.body,
        body_truncated=context.body_truncated,
    )


def delivery_finish(*, context: DeliveryContext, status_code: int, error: str = "") -> None:
    """Record a request that did not already record itself, then write its log line.

    A failure to write the ledger never changes the answer the partner already has coming;
    the log line then is the record.
    """
    ledger_written = context.recorded
    if not context.recorded:
        try:
            delivery_build(context=context, status_code=status_code, error=error).save()
            ledger_written = True
        except DatabaseError as exc:
            logger.error("Could not write the delivery ledger: %s", exc, extra={"partner": context.platform})
    level = logging.INFO if status_code < 400 else logging.WARNING if status_code < 500 else logging.ERROR
    logger.log(
        level,
        "lead webhook %s %s",
        context.platform or "unknown-partner",
        status_code,
        extra={
            "partner": context.platform,
            "status": status_code,
            "outcome": outcome_for(status_code, duplicate=context.duplicate),
            "latency_ms": context.latency_ms,
            "client_ip": context.client_ip,
            "key_prefix": context.key_prefix,
            "phone": mask_phone(context.phone) if context.phone else "",
            "lead_id": str(context.lead.public_id) if context.lead else "",
            "error": error,
            "ledger": ledger_written,
        },
    )
