"""A buyer who walked in or phoned the showroom, added by staff: stored as a webhook lead is.

The same write path as a partner's lead (leads.intake.store.lead_ingest): dedupe, assignment (the buyer's own
salesperson or the next on duty), the timeline and the alert, under its own source, "Walk-in", which the
reports count like a platform. Its ledger row says it came from the admin.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from leads.intake.ledger import DeliveryRequest
from leads.intake.store import IngestResult, lead_ingest
from leads.models import LeadEvent
from leads.partners import WALK_IN


def walk_in_lead_add(
    *, name: str, phone_number: str, car_model: str = "", actor: Any, client_ip: str | None = None
) -> IngestResult:
    payload = {"name": name, "phone_number": phone_number, "car_model": car_model, "campaign": "Walk-in / phone-in"}
    request = DeliveryRequest(partner=WALK_IN, client_ip=client_ip, request_id=f"admin:{actor.get_username()}")
    with transaction.atomic():
        result = lead_ingest(partner=WALK_IN, payload=payload, delivery=request)
        if not result.duplicate:
            LeadEvent.objects.create(
                lead=result.lead, kind=LeadEvent.Kind.ADDED_BY_STAFF, actor=actor, text="Walk-in or phone-in buyer."
            )
    return result
