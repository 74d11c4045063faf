"""A batch of leads in one request (``leads.intake.parsing.lead_batch``): each lead is stored as it would be on
its own (``lead_ingest``: dedupe, assignment, its own ledger row), and each refused one keeps its part of the
body on a ledger row of its own, so that ``replay_deliveries`` can store it later without storing the others
twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rest_framework import status
from rest_framework.exceptions import ParseError

from leads.intake.exceptions import InvalidApiKey
from leads.intake.ledger import LEAD_STORED_STATUS, DeliveryRequest, delivery_record
from leads.intake.parsing import batch_lead
from leads.intake.store import IngestResult, KeyNoLongerActive, MissingFields, lead_ingest
from leads.partners import Partner

PARTLY_STORED_STATUS = status.HTTP_207_MULTI_STATUS


@dataclass(frozen=True)
class BatchEntry:
    """One lead of a batch: stored (``result``), or refused with ``error`` and the status its own request would get."""

    delivery: DeliveryRequest  # what its ledger row says: its part of the body
    result: IngestResult | None = None
    error: str = ""
    status_code: int = status.HTTP_400_BAD_REQUEST

    @property
    def answer(self) -> dict[str, Any]:
        if self.result is None:
            return {"error": self.error}
        return {"id": str(self.result.lead.public_id), "duplicate": self.result.duplicate}


def batch_ingest(
    *,
    partner: Partner,
    leads: list[Any],
    delivery: DeliveryRequest,
    api_key_id: int | None = None,
    is_test: bool = False,
    received_at: datetime | None = None,
) -> list[BatchEntry]:
    """Store each lead of a batch, in the order sent; nothing of a refused one is written (``refused_keep``).

    A batch's Idempotency-Key is one lead's id only in a batch of one: in a larger one each lead carries its own.
    Raises KeyNoLongerActive when the key stopped working before any lead was stored; after one was, the rest
    are refused as with a wrong key.
    """
    entries: list[BatchEntry] = []
    for index, value in enumerate(leads):
        part = lead_part(delivery, value, idempotency_key=delivery.idempotency_key if len(leads) == 1 else "")
        try:
            result = lead_ingest(
                partner=partner,
                payload=batch_lead(value),
                delivery=part,
                api_key_id=api_key_id,
                idempotency_key=part.idempotency_key,
                is_test=is_test,
                received_at=received_at,
            )
        except ParseError as exc:
            entries.append(BatchEntry(part, error=str(exc.detail)))
        except MissingFields as exc:
            entries.append(BatchEntry(part, error=str(exc)))
        except KeyNoLongerActive:
            if not any(entry.result for entry in entries):
                raise
            refused = str(InvalidApiKey.default_detail)
            entries.extend(
                BatchEntry(lead_part(delivery, rest), error=refused, status_code=status.HTTP_403_FORBIDDEN)
                for rest in leads[index:]
            )
            break
        else:
            entries.append(BatchEntry(part, result=result))
    return entries


def refused_keep(entries: list[BatchEntry]) -> None:
    """A ledger row for each refused lead of a batch, with its part of the body, for replay."""
    for entry in entries:
        if entry.result is None:
            delivery_record(entry.delivery, status_code=entry.status_code, error=entry.error)


def lead_part(delivery: DeliveryRequest, value: Any, *, idempotency_key: str = "") -> DeliveryRequest:
    """The request as one lead of its batch would have come alone: that lead's JSON as its body."""
    try:
        body = json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate (a "\ud800" escape) has no UTF-8; JSON's escapes keep it
        body = json.dumps(value).encode()
    return replace(
        delivery.with_body(body), content_type="application/json", content_encoding="", idempotency_key=idempotency_key
    )


def batch_answer(partner: Partner, entries: list[BatchEntry]) -> tuple[int, dict[str, Any]]:
    """The status and body for a batch: 201 when every lead was stored, 207 when some were, else 400.

    ``results`` holds each lead's answer in the order sent. A batch of one is answered as its lead would be
    alone, with ``results`` besides, so a client written for single leads reads the same fields.
    """
    results = [entry.answer for entry in entries]
    stored = [entry.result for entry in entries if entry.result is not None]
    if len(entries) == 1:
        (entry,) = entries
        if entry.result is None:
            return entry.status_code, {"error": entry.error, "results": results}
        single = {"message": partner.success_message, **entry.answer}
        return LEAD_STORED_STATUS, {**single, "results": results}
    if len(stored) == len(entries):
        return LEAD_STORED_STATUS, {
            "message": f"{len(entries)} {partner.name} leads inserted successfully",
            "results": results,
        }
    if stored:
        return PARTLY_STORED_STATUS, {
            "message": f"{len(stored)} of {len(entries)} {partner.name} leads inserted; "
            "the others are refused, each saying why in results",
            "results": results,
        }
    return status.HTTP_400_BAD_REQUEST, {
        "error": f"None of the {len(entries)} leads could be stored; each says why in results",
        "results": results,
    }
