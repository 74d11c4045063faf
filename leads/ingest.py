"""Turning a partner's JSON object into a stored Lead: map, normalise, dedupe, create.

No HTTP here: the API layer hands over a parsed object and a DeliveryContext.
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

from leads.ledger import DeliveryContext, delivery_build
from leads.models import ApiKey, Delivery, Lead
from leads.partners import LEAD_FIELDS, REQUIRED_FIELDS, Partner
from leads.phones import normalise_phone
from leads.text import as_text, storable_json


class KeyNoLongerActive(Exception):
    """The API key was revoked or expired after it was checked; nothing was stored."""


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


def lead_ingest(
    *, partner: Partner, payload: Mapping[str, Any], context: DeliveryContext, api_key_id: int | None = None
) -> IngestResult:
    """Store the lead unless the same platform and phone arrived within the dedupe window.

    The lead and its ledger row commit together, so a 2xx always means both exist. With
    ``api_key_id``, they are written only if that key is still active in the same transaction.
    Raises MissingFields for a payload without a name or phone, KeyNoLongerActive when the key
    has stopped working.
    """
    mapped = lead_map(partner=partner, payload=payload)
    phone = normalise_phone(mapped.phone_number)
    context.phone = phone.e164 or mapped.phone_number
    window = timedelta(seconds=settings.LEAD_DEDUPE_WINDOW_SECONDS)

    lead = Lead(
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
        received_at=timezone.now(),
    )
    # The phone as we compare it: its digits when it has any, else exactly as sent.
    same_phone = ("phone_digits", phone.digits) if phone.digits else ("phone_number", mapped.phone_number)
    since = lead.received_at - window if window else None
    # The connection itself, not django.db.connection: every attribute read through that proxy
    # looks up the thread's connection again, dozens of times per lead.
    db = connections[DEFAULT_DB_ALIAS]
    store = _store_postgresql if db.vendor == "postgresql" else _store_orm
    context.lead, context.duplicate = store(
        db=db, partner=partner, lead=lead, same_phone=same_phone, since=since, context=context, api_key_id=api_key_id
    )
    context.recorded = True
    return IngestResult(lead=context.lead, duplicate=context.duplicate)


def _store_orm(
    *,
    db: BaseDatabaseWrapper,
    partner: Partner,
    lead: Lead,
    same_phone: tuple[str, str],
    since: datetime | None,
    context: DeliveryContext,
    api_key_id: int | None,
) -> tuple[Lead, bool]:
    """Dedupe and store with the ORM, for SQLite: its IMMEDIATE transactions (see settings) let one
    writer in at a time, so the read-then-insert below cannot interleave with another."""
    with transaction.atomic(using=db.alias):
        if api_key_id and not ApiKey.objects.using(db.alias).filter(pk=api_key_id).active(at=lead.received_at).exists():
            raise KeyNoLongerActive()
        column, value = same_phone
        earlier = (
            Lead.objects.using(db.alias)
            .filter(platform=partner.name, received_at__gte=since, **{column: value})
            .order_by("received_at")
            .first()
            if since
            else None
        )
        if earlier is None:
            lead.save(force_insert=True, using=db.alias)
        context.duplicate = earlier is not None
        context.lead = earlier or lead
        delivery_build(context=context, status_code=201).save(using=db.alias)
    return context.lead, context.duplicate


def _store_postgresql(
    *,
    db: BaseDatabaseWrapper,
    partner: Partner,
    lead: Lead,
    same_phone: tuple[str, str],
    since: datetime | None,
    context: DeliveryContext,
    api_key_id: int | None,
) -> tuple[Lead, bool]:
    """Dedupe and store in one round trip: this runs for every lead, and each round trip costs
    about as much CPU as the database spends on the statement (bench/ingest.py).

    Two statements in one simple query, which PostgreSQL runs as one transaction (or as part of the
    caller's, inside an atomic block):
    1. a transaction-scoped advisory lock on (platform, phone). Two identical webhooks arriving
       together would both see "no lead yet" and both insert; the lock makes the second wait for
       the first to commit. Other phones never wait.
    2. EXECUTE of the statement _StoreStatement prepares once per connection: it looks for the
       earlier lead in the window (its snapshot is taken after the lock is held, so it sees what
       the first committed), inserts the lead unless one was found, and writes the ledger row
       pointing at whichever lead it is; with ``api_key_id``, only while that key is active
       (ApiKey.state's rules, written out in SQL).
    """
    column, value = same_phone
    context.duplicate = False  # the statement decides; the ledger row's outcome is set there
    delivery = delivery_build(context=context, status_code=201)
    params = [
        f"lead:{partner.slug}:{value}",
        api_key_id,
        lead.received_at,
        lead.received_at,
        api_key_id is None,  # no key to confirm (an environment key): always active
        partner.name,
        value,
        since or lead.received_at,
        since is not None,
        *_insert_values(lead, fields=_insert_fields(Lead), db=db),
        *_insert_values(delivery, fields=_insert_fields(Delivery, exclude=DELIVERY_SET_IN_SQL), db=db),
        Delivery.Outcome.DUPLICATE,
        Delivery.Outcome.CREATED,
        Delivery.Outcome.DUPLICATE,
    ]
    statement = _store_statement(column)
    with db.cursor() as cursor:
        statement.prepare_once(cursor, connection=db.connection)
        cursor.execute(statement.execute, params)
        cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        raise KeyNoLongerActive()
    lead_id, duplicate = row
    if duplicate:
        return Lead.objects.using(db.alias).get(pk=lead_id), True
    lead.pk = lead_id
    lead._state.adding, lead._state.db = False, db.alias
    return lead, False


# The ledger row's lead and outcome are only known inside the statement.
DELIVERY_SET_IN_SQL = ("lead", "outcome")


class _StoreStatement:
    """The statement _store_postgresql runs, prepared once per database connection.

    Planning it cost PostgreSQL more than running it: about 0.4 ms of the 1 ms it spent on each
    lead (bench/ingest.py). A prepared statement is planned once per connection, and PostgreSQL
    re-plans it by itself after a migration. PREPARE outlives a rolled-back transaction, so a
    connection is marked only after its PREPARE succeeded, and a new connection (after a
    PostgreSQL restart, say) prepares it again. This needs session-level connections, as Django's
    persistent connections are; a pooler in transaction mode would not keep it.
    """

    def __init__(self, column: str) -> None:
        quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
        lead_fields = _insert_fields(Lead)
        delivery_fields = _insert_fields(Delivery, exclude=DELIVERY_SET_IN_SQL)
        lead_columns = ", ".join(quote(f.column) for f in lead_fields)
        delivery_columns = ", ".join(quote(f.column) for f in delivery_fields)
        lead_table, delivery_table, key_table = Lead._meta.db_table, Delivery._meta.db_table, ApiKey._meta.db_table
        number = itertools.count(1)

        def params(n: int) -> str:
            return ", ".join(f"${next(number)}" for _ in range(n))

        self.name = f"leads_store_{column}"
        self.prepare = f"""
            PREPARE {self.name} AS
            WITH key_active AS (
                SELECT FROM {key_table} WHERE id = {params(1)}
                AND (revoked_at IS NULL OR revoked_at > {params(1)})
                AND (expires_at IS NULL OR expires_at > {params(1)})
                UNION ALL SELECT WHERE {params(1)}
            ), earlier AS (
                SELECT id FROM {lead_table}
                WHERE platform = {params(1)} AND {column} = {params(1)} AND received_at >= {params(1)} AND {params(1)}
                ORDER BY received_at LIMIT 1
            ), created AS (
                INSERT INTO {lead_table} ({lead_columns})
                SELECT {params(len(lead_fields))}
                WHERE NOT EXISTS (SELECT FROM earlier) AND EXISTS (SELECT FROM key_active)
                RETURNING id
            ), stored AS (
                SELECT id, false AS duplicate FROM created
                UNION ALL SELECT id, true FROM earlier WHERE EXISTS (SELECT FROM key_active)
            )
            INSERT INTO {delivery_table} ({delivery_columns}, lead_id, outcome)
            SELECT {params(len(delivery_fields))}, stored.id,
                CASE WHEN stored.duplicate THEN {params(1)} ELSE {params(1)} END
            FROM stored
            RETURNING lead_id, outcome = {params(1)}
        """  # noqa: S608  (names from the models; every value is a parameter)
        arguments = ", ".join(["%s"] * (next(number) - 1))
        # The lock stays outside: it must be held before the statement takes its snapshot.
        self.execute = f"SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)); EXECUTE {self.name}({arguments})"
        # The connections (psycopg's, one per thread) that have it; they drop out when closed.
        self._prepared_on: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()

    def prepare_once(self, cursor: Any, *, connection: Any) -> None:
        if connection in self._prepared_on:
            return
        cursor.execute(self.prepare)
        with self._lock:
            self._prepared_on.add(connection)


@functools.cache
def _store_statement(column: str) -> _StoreStatement:
    """One per phone column; it depends only on the models, so it is built once per process."""
    return _StoreStatement(column)


@functools.cache
def _insert_fields(model: type[Model], *, exclude: tuple[str, ...] = ()) -> tuple[Field, ...]:
    """The fields ``save()`` would insert, read off the model so that a new field cannot be left out."""
    return tuple(f for f in model._meta.local_concrete_fields if not f.primary_key and f.name not in exclude)


def _insert_values(instance: Model, *, fields: tuple[Field, ...], db: BaseDatabaseWrapper) -> list[Any]:
    """The database values ``instance.save()`` would insert for ``fields``."""
    return [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]
