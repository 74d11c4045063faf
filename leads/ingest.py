"""Turning a partner's JSON object into a stored Lead: map, normalise, dedupe, create.

No HTTP here: the API layer hands over a parsed object and a DeliveryContext.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads.ledger import DeliveryContext, delivery_build
from leads.models import Lead
from leads.partners import LEAD_FIELDS, REQUIRED_FIELDS, Partner
from leads.phones import NormalisedPhone, normalise_phone
from leads.text import as_text, storable_json


class MissingFields(Exception):
    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        super().__init__(f"Missing required fields: {', '.join(fields)}")


@dataclass(frozen=True)
class MappedLead:
    name: str
    phone_number: str
    car_model: str
    lead_url: str
    campaign: str


@dataclass(frozen=True)
class IngestResult:
    lead: Lead
    duplicate: bool


def lead_map(*, partner: Partner, payload: Mapping[str, Any]) -> MappedLead:
    """Pick each field from the partner's aliases, in priority order.

    A null, blank or non-scalar alias falls through to the next one. Raises MissingFields,
    naming the required fields in the guide's order, when nothing usable is left.
    """
    values: dict[str, str] = {}
    for field_name in LEAD_FIELDS:
        for alias in partner.aliases[field_name]:
            text = as_text(payload.get(alias))
            if text:
                values[field_name] = text
                break
    missing = tuple(name for name in REQUIRED_FIELDS if name not in values)
    if missing:
        raise MissingFields(missing)
    return MappedLead(**{name: _fit(name, values.get(name, "")) for name in LEAD_FIELDS})


def _fit(field_name: str, text: str) -> str:
    # Longer than the column: the column keeps the start, ``payload`` keeps it whole.
    return text[: Lead._meta.get_field(field_name).max_length]


def lead_ingest(*, partner: Partner, payload: Mapping[str, Any], context: DeliveryContext) -> IngestResult:
    """Store the lead unless the same platform and phone arrived within the dedupe window.

    The lead and its ledger row commit together, so a 2xx always means both exist.
    Raises MissingFields for a payload without a name or phone.
    """
    mapped = lead_map(partner=partner, payload=payload)
    phone = normalise_phone(mapped.phone_number)
    context.phone = phone.e164 or mapped.phone_number
    window = timedelta(seconds=settings.LEAD_DEDUPE_WINDOW_SECONDS)

    with transaction.atomic():
        now = timezone.now()
        duplicate_of = None
        if window:
            _lock_phone(partner=partner, phone_key=phone.digits or mapped.phone_number)
            duplicate_of = _first_in_window(
                partner=partner, phone=phone, raw_phone=mapped.phone_number, since=now - window
            )

        if duplicate_of is not None:
            lead = duplicate_of
        else:
            lead = Lead.objects.create(
                platform=partner.name,
                name=mapped.name,
                phone_number=mapped.phone_number,
                phone_e164=phone.e164,
                phone_valid=phone.valid,
                phone_digits=phone.digits,
                car_model=mapped.car_model,
                lead_url=mapped.lead_url,
                campaign=mapped.campaign,
                payload=storable_json(dict(payload)),
                received_at=now,
            )
        context.lead = lead
        context.duplicate = duplicate_of is not None
        delivery_build(context=context, status_code=201).save()
        context.recorded = True
    return IngestResult(lead=lead, duplicate=context.duplicate)


def _first_in_window(*, partner: Partner, phone: NormalisedPhone, raw_phone: str, since: datetime) -> Lead | None:
    # Plain SQL on purpose: this runs for every lead, and building the same ORM query each time cost
    # more CPU than the database spends answering it (bench/ingest.py). lead_dedupe_idx serves it.
    column, value = ("phone_digits", phone.digits) if phone.digits else ("phone_number", raw_phone)
    sql = (
        f"SELECT id FROM {Lead._meta.db_table} WHERE platform = %s AND {column} = %s AND received_at >= %s "  # noqa: S608
        "ORDER BY received_at LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [partner.name, value, since])
        row = cursor.fetchone()
    return Lead.objects.get(pk=row[0]) if row else None


def _lock_phone(*, partner: Partner, phone_key: str) -> None:
    # Two identical webhooks arriving together would both see "no lead yet" and both insert.
    # A transaction-scoped advisory lock on (platform, phone) makes the second wait for the
    # first to commit, then find its lead. Other phones never wait. SQLite needs no lock: its
    # IMMEDIATE transactions (see settings) already let one writer in at a time.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"lead:{partner.slug}:{phone_key}"]
            )
