"""A partner's JSON object to a committed lead: map, normalise, dedupe, store, in one transaction.

No HTTP here: the view hands over the parsed object and what it knows of the request
(``leads.intake.ledger.DeliveryRequest``), and gets back the lead and its outcome. The lead and its
ledger row commit together, so a stored lead always has the row that says how it came; a new real
lead commits with its assignee, its timeline line and its alert job too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leads.common import db_locks
from leads.common.names import latin_name
from leads.common.phones import normalise_phone
from leads.common.text import storable, storable_json
from leads.intake.ledger import DeliveryRequest, stored_lead_row
from leads.intake.mapping import MissingFields, fit, lead_map
from leads.models import ApiKey, Delivery, Lead
from leads.partners import Partner
from leads.sales.assignment import assignee_choose, new_lead_assigned

__all__ = ["IngestResult", "KeyNoLongerActive", "MissingFields", "lead_ingest"]


class KeyNoLongerActive(Exception):
    """The API key was revoked or expired after it was checked; nothing was stored."""


@dataclass(frozen=True)
class IngestResult:
    lead: Lead  # the stored lead, or for a duplicate the earlier one
    outcome: str  # Delivery.Outcome.CREATED or DUPLICATE

    @property
    def duplicate(self) -> bool:
        return self.outcome == Delivery.Outcome.DUPLICATE


def lead_ingest(
    *,
    partner: Partner,
    payload: Mapping[str, Any],
    delivery: DeliveryRequest,
    api_key_id: int | None = None,
    idempotency_key: str = "",
    is_test: bool = False,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store the lead unless it is one already stored.

    It is the same lead when the same platform and phone arrived within the dedupe window either side
    of ``received_at`` (guide §6, whatever ids the two carry), or when the partner's lead id (from the
    payload, else ``idempotency_key``) came before with the same phone, at any time: as a lead's own id,
    or as a duplicate's (the ledger keeps it). Test leads (``is_test``, from a test key) are only
    compared with test leads, and are never assigned or alerted.
    ``received_at`` is now, except for a lead replayed from the ledger: then it is when it came.

    With ``api_key_id`` (a database key), nothing is written unless that key still works inside the
    transaction; without it (an environment key) there is nothing to confirm. Raises MissingFields for a
    payload without a name or phone, KeyNoLongerActive when the key has stopped working.
    """
    mapped = lead_map(partner=partner, payload=payload)
    phone = normalise_phone(mapped.phone_number)
    lead = Lead(
        platform=partner.name,
        name=mapped.name,
        name_latin=latin_name(mapped.name),
        phone_number=mapped.phone_number,
        phone_e164=phone.e164,
        phone_valid=phone.valid,
        phone_digits=phone.digits,
        car_model=mapped.car_model,
        lead_url=mapped.lead_url,
        campaign=mapped.campaign,
        partner_lead_id=mapped.partner_lead_id or fit("partner_lead_id", storable(idempotency_key.strip())),
        payload=storable_json(dict(payload)),
        received_at=received_at or timezone.now(),
        is_test=is_test,
    )
    row = stored_lead_row(delivery, partner_lead_id=lead.partner_lead_id)
    with transaction.atomic():
        # A webhook held up behind a lock (a migration's, say) gives up in time for the partner to hear 503.
        db_locks.lock_timeout(settings.LEAD_STORE_TIMEOUT_SECONDS)
        # Two identical webhooks arriving together would both find no earlier lead and both insert one; these
        # locks make the second wait until the first has committed. Other buyers never wait.
        db_locks.advisory_lock(*_dedupe_lock_keys(partner, lead))
        if api_key_id is not None and not ApiKey.objects.active().filter(pk=api_key_id).exists():
            raise KeyNoLongerActive()
        earlier = _earlier_lead(lead)
        if earlier is not None:
            row.lead, row.outcome = earlier, Delivery.Outcome.DUPLICATE
            row.save()
            return IngestResult(lead=earlier, outcome=Delivery.Outcome.DUPLICATE)
        assignment = None if lead.is_test else assignee_choose(phone_digits=lead.phone_digits)
        if assignment is not None:
            lead.assignee, lead.alert_pending = assignment.user, True
        lead.save()
        if assignment is not None:
            new_lead_assigned(lead=lead, assignment=assignment)  # its timeline line and its alert job
        row.lead, row.outcome = lead, Delivery.Outcome.CREATED
        row.save()
    return IngestResult(lead=lead, outcome=Delivery.Outcome.CREATED)


def _same_phone(lead: Lead) -> dict[str, str]:
    """The phone as leads are compared on it: by its digits when it has any, else exactly as sent."""
    if lead.phone_digits:
        return {"phone_digits": lead.phone_digits}
    return {"phone_digits": "", "phone_number": lead.phone_number}


def _dedupe_lock_keys(partner: Partner, lead: Lead) -> tuple[str, ...]:
    """The locks a lead's webhook takes, in this order: the phone as the window compares it, then with an id
    the id and the phone's digits as the unique constraint compares them. Every webhook takes a phone lock
    first and an id lock last, so no two can wait for each other's. (Spelled as releases before this one spell
    them, so that during a deploy an old process and a new one still take turns.)"""
    prefix = f"lead:{partner.slug}:{lead.is_test:d}"
    column = "phone_digits" if lead.phone_digits else "phone_number"
    keys = [f"{prefix}:{column}={getattr(lead, column)}"]
    if lead.partner_lead_id:
        keys.append(f"{prefix}:partner_lead_id={lead.partner_lead_id}:phone_digits={lead.phone_digits}")
    return tuple(keys)


def _earlier_lead(lead: Lead) -> Lead | None:
    """The earliest stored lead this one repeats (``lead_ingest`` says when), or None.

    Each way a lead can repeat another is looked up on its own, each from its own index, and the earliest found
    wins: one query OR-ing them lets the planner read every lead of a busy phone instead.
    """
    kind = Lead.objects.filter(platform=lead.platform, is_test=lead.is_test).order_by("received_at", "pk")
    found: list[Lead | None] = []
    window = timedelta(seconds=settings.LEAD_DEDUPE_WINDOW_SECONDS)
    if window:  # no window: only an id makes two leads one
        # Either side: a lead replayed from the ledger days later is not the same as a newer one.
        around = (lead.received_at - window, lead.received_at + window)
        found.append(kind.filter(**_same_phone(lead), received_at__range=around).first())
    if lead.partner_lead_id:
        # An id matches with the phone's digits too (as the unique constraint does): a partner whose "id" means
        # something else (a campaign, an ad) must not have every later buyer taken for the first. It is the
        # lead's own id, or one a duplicate of it came with (its ledger row keeps it).
        with_digits = kind.filter(phone_digits=lead.phone_digits)
        came_with_id = Delivery.objects.filter(platform=lead.platform, partner_lead_id=lead.partner_lead_id)
        found.append(with_digits.filter(partner_lead_id=lead.partner_lead_id).first())
        found.append(with_digits.filter(pk__in=came_with_id.exclude(lead=None).values("lead")).first())
    return min(
        (earlier for earlier in found if earlier), key=lambda earlier: (earlier.received_at, earlier.pk), default=None
    )
