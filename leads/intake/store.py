"""Turning a partner's JSON object into a stored Lead: map, normalise, dedupe, store.

No HTTP here: the API layer hands over the parsed object and what it knows of the request
(``leads.intake.ledger.DeliveryRequest``), and gets back the lead and its outcome. The lead and its
ledger row commit together, so a stored lead always has the row that says how it came; a new
real lead commits with its assignee and its alert job too.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Model, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from psycopg.sql import Literal

from leads.common.phones import normalise_phone
from leads.common.text import as_text, storable, storable_json
from leads.intake.aliases import partner_aliases
from leads.intake.ledger import LOCK_TIMEOUT, DeliveryRequest, lock_timeout_parameters, stored_lead_row
from leads.models import ApiKey, Delivery, Lead, LeadEvent
from leads.partners import LEAD_FIELDS, REQUIRED_FIELDS, Partner
from leads.sales.assignment import (
    ASSIGNED_TEXT,
    KEPT_REASON,
    ROUND_ROBIN_SEQUENCE,
    TURN_REASON,
    UNASSIGNED_TEXT,
    on_duty_sales,
    open_lead_owners,
)


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
    partner_lead_id: str


@dataclass(frozen=True)
class IngestResult:
    lead: Lead  # the stored lead, or for a duplicate the earlier one
    outcome: str  # Delivery.Outcome.CREATED or DUPLICATE

    @property
    def duplicate(self) -> bool:
        return self.outcome == Delivery.Outcome.DUPLICATE


def lead_map(*, partner: Partner, payload: Mapping[str, Any]) -> MappedLead:
    """Pick each field from the partner's aliases (leads.intake.aliases), in priority order.

    A list (a form field sent twice, a JSON array) stands for its first usable value. A null, blank
    or object alias, or a list with nothing usable, falls through to the next one. Raises
    MissingFields, naming the required fields in the guide's order, when nothing usable is left.
    """
    values: dict[str, str] = {}
    aliases = partner_aliases(partner)
    for field_name in LEAD_FIELDS:
        for alias in aliases[field_name]:
            text = _first_text(payload.get(alias))
            if text:
                values[field_name] = text
                break
    missing = tuple(name for name in REQUIRED_FIELDS if name not in values)
    if missing:
        raise MissingFields(missing)
    return MappedLead(**{name: _fit(name, values.get(name, "")) for name in LEAD_FIELDS})


def _first_text(value: Any) -> str | None:
    candidates = value if isinstance(value, list) else [value]
    return next(filter(None, map(as_text, candidates)), None)


def _fit(field_name: str, text: str) -> str:
    # Longer than the column: the column keeps the start, ``payload`` keeps it whole.
    field = Lead._meta.get_field(field_name)
    assert isinstance(field, Field)
    return text[: field.max_length]


# With no dedupe window, no earlier lead is recent enough (a partner lead id still matches for good).
_NEVER = datetime.max.replace(tzinfo=UTC)


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
    compared with test leads.
    ``received_at`` is now, except for a lead replayed from the ledger: then it is when it came.

    The lead and ``delivery``'s ledger row commit together, in one statement; a created real lead
    commits with its assignee, the line on its timeline that says so, and its alert job
    (``leads.tasks.alert_new_leads``: one waits per recipient, and the lead joins it) as well.
    Test leads are never assigned or alerted. With ``api_key_id`` (a database key), lead and row
    are written only if that key still works in the same transaction; without it (an environment
    key) there is nothing to confirm. Raises MissingFields for a payload without a name or phone,
    KeyNoLongerActive when the key has stopped working.
    """
    mapped = lead_map(partner=partner, payload=payload)
    phone = normalise_phone(mapped.phone_number)
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
        partner_lead_id=mapped.partner_lead_id or _fit("partner_lead_id", storable(idempotency_key.strip())),
        payload=storable_json(dict(payload)),
        received_at=received_at or timezone.now(),
        is_test=is_test,
    )
    window = timedelta(seconds=settings.LEAD_DEDUPE_WINDOW_SECONDS)
    # Either side: a lead replayed from the ledger days later is not the same as a newer one.
    since, until = (lead.received_at - window, lead.received_at + window) if window else (_NEVER, _NEVER)
    # The phone as we compare it: its digits when it has any, else exactly as sent.
    match = {"phone_digits": phone.digits} if phone.digits else {"phone_number": mapped.phone_number}
    if lead.partner_lead_id:
        # An id matches with the phone's digits too (as the unique constraint does): a partner whose "id"
        # means something else (a campaign, an ad) must not have every later buyer taken for the first.
        match["partner_lead_id"] = lead.partner_lead_id
    # The connection itself, not django.db.connection: every attribute read through that proxy
    # looks up the thread's connection again.
    return _store(
        connections[DEFAULT_DB_ALIAS],
        partner=partner,
        match=match,
        since=since,
        until=until,
        lead=lead,
        delivery=delivery,
        api_key_id=api_key_id,
    )


def _store(
    db: Any,
    *,
    partner: Partner,
    match: dict[str, str],
    since: datetime,
    until: datetime,
    lead: Lead,
    delivery: DeliveryRequest,
    api_key_id: int | None,
) -> IngestResult:
    is_test = lead.is_test
    matched_on = tuple(match)
    row = _store_statement(matched_on).run(
        db,
        # Two identical webhooks arriving together would both see "no lead yet" and both insert;
        # these locks make the second wait for the first to commit. Other phones never wait.
        locks=_dedupe_locks(f"lead:{partner.slug}:{is_test:d}", match, phone_digits=lead.phone_digits),
        values={
            "api_key_id": api_key_id,
            "at": lead.received_at,
            "platform": partner.name,
            "is_test": is_test,
            "assign": not is_test,
            "phone_digits": lead.phone_digits,
            **{f"same_{column}": value for column, value in match.items()},
            "since": since,
            "until": until,
            **_row_values("lead", lead, db=db),
            **_row_values("delivery", stored_lead_row(delivery, partner_lead_id=lead.partner_lead_id), db=db),
            **_row_values("event", LeadEvent(at=timezone.now()), db=db),
        },
    )
    if row is None:
        raise KeyNoLongerActive()
    lead_id, outcome, assignee_id = row
    if outcome == Delivery.Outcome.DUPLICATE:
        return IngestResult(lead=Lead.objects.using(db.alias).get(pk=lead_id), outcome=outcome)
    lead.pk, lead.assignee_id = lead_id, assignee_id
    lead._state.adding, lead._state.db = False, db.alias
    return IngestResult(lead=lead, outcome=outcome)


def _dedupe_locks(prefix: str, match: dict[str, str], *, phone_digits: str) -> tuple[str, ...]:
    """The advisory locks that make concurrent webhooks for one lead take turns, in the order taken: the
    phone as the window compares it, then with an id the id and phone digits as the unique constraint
    compares them (the same phone for a phone with digits; for one without, they can differ). Every
    webhook takes a phone lock first and an id lock last, so no two can wait for each other's."""
    phone_column, *with_id = match
    locks = [f"{prefix}:{phone_column}={match[phone_column]}"]
    if with_id:
        locks.append(f"{prefix}:partner_lead_id={match['partner_lead_id']}:phone_digits={phone_digits}")
    return tuple(locks)


# Columns only known inside the statement, which sets them (the assignee, the lead's id, the outcome, the
# timeline's line); every other column's value comes from a model instance (``_row_values``).
_SET_IN_SQL: dict[type[Model], tuple[str, ...]] = {
    Lead: ("assignee", "alert_pending"),
    Delivery: ("lead", "outcome"),
    LeadEvent: ("lead", "kind", "text"),
}


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[Field[Any, Any], ...]:
    """The fields ``save()`` would insert, read off the model so that a new field cannot be left out."""
    exclude = _SET_IN_SQL.get(model, ())
    return tuple(f for f in model._meta.local_concrete_fields if not f.primary_key and f.name not in exclude)


def _row_values(prefix: str, instance: Model, *, db: Any) -> dict[str, Any]:
    """The database values ``instance.save()`` would insert, named ``<prefix>__<field>``."""
    return {
        f"{prefix}__{f.name}": f.get_db_prep_save(f.pre_save(instance, True), db)
        for f in _insert_fields(type(instance))
    }


def _param(name: str) -> RawSQL:
    """A named parameter of the statement, usable wherever the ORM takes a value."""
    return RawSQL(f"%({name})s", ())  # noqa: S611  (a placeholder; the value is bound by PostgreSQL)


class _Compiled:
    """Compiles querysets into the statement: their own values (a group's name, the closed statuses)
    become the statement's constants, written in as literals when it is prepared (``_literals``)."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}

    def __call__(self, queryset: QuerySet[Any]) -> str:
        sql, params = queryset.query.sql_with_params()
        names = [f"constant_{len(self.constants) + n}" for n in range(len(params))]
        self.constants.update(zip(names, params, strict=True))
        placeholders = iter(names)
        return _POSITIONAL_PARAMETER.sub(lambda _: f"%({next(placeholders)})s", sql)


_POSITIONAL_PARAMETER = re.compile(r"%s")


def _store_sql(matched_on: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """Dedupe, store the lead and its ledger row, all in one statement (one transaction).

    It finds the earliest lead with the same phone (``matched_on``'s phone column) received between
    ``since`` and ``until``, or, when ``matched_on`` has ``partner_lead_id``, with the same phone digits
    and that id as its own or on a ledger row of its; inserts the lead unless one was found, and writes
    the ledger row pointing at whichever lead it is; with an ``api_key_id``, only while that key works
    (``ApiKey.objects.active()``, compiled in). A new lead that is to be assigned (``assign``: a real
    one) is inserted with its assignee (leads.sales.assignment's querysets, compiled in), the timeline line
    that says so, and its alert job (or it joins its recipient's job already waiting).
    It returns the lead's id, the outcome and the assignee's id; or no row when the key has stopped
    working.
    """
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    _sql = _Compiled()
    working_key = ApiKey.objects.filter(pk=_param("api_key_id")).active(at=_param("at")).order_by().values("pk")
    phone_column, *with_id = matched_on
    same_phone: dict[str, RawSQL | str] = {phone_column: _param(f"same_{phone_column}")}
    if phone_column != "phone_digits":  # a phone without digits: among those, as the dedupe index has them
        same_phone["phone_digits"] = ""
    lead_kind = {"platform": _param("platform"), "is_test": _param("is_test")}

    def first(leads: QuerySet[Lead]) -> Subquery:
        return Subquery(leads.order_by("received_at").values("pk")[:1])

    # Each way a lead can be the same is looked up on its own, each from an index, and the earliest found
    # wins, read by its primary key. An OR of them in one filter, or a range on received_at, would let the
    # planner choose to read every lead of the platform, or every recent one, for each lead (as it does on
    # a table whose statistics are not yet taken). The ids' indexes are partial (no empty id), so each id
    # lookup says so itself, which lets even a generic plan use them.
    # The first lead with the phone since the window opened, if it came before the window closes:
    first_since = first(Lead.objects.filter(**lead_kind, received_at__gte=_param("since"), **same_phone))
    candidates = [first(Lead.objects.filter(pk=first_since, received_at__lte=_param("until")))]
    if with_id:
        # The first lead with the phone's digits that came with the id, and the first that took it as a
        # duplicate (its ledger row keeps it):
        same_id = _param("same_partner_lead_id")
        with_digits = Lead.objects.filter(**lead_kind, phone_digits=_param("phone_digits"))
        came_with_it = Delivery.objects.filter(platform=_param("platform"), partner_lead_id=same_id)
        candidates += [
            first(with_digits.filter(partner_lead_id=same_id).exclude(partner_lead_id="")),
            first(with_digits.filter(pk__in=came_with_it.exclude(partner_lead_id="").values("lead"))),
        ]
    earlier = Lead.objects.filter(pk__in=candidates).order_by("received_at").values("pk")[:1]

    # Who works a new real lead (leads.sales.assignment): the buyer's salesperson if they have an open lead,
    # else the next person on duty, by a turn from the round-robin sequence (drawn only when needed).
    owner = open_lead_owners(phone_digits=_param("phone_digits")).values("assignee")[:1]
    on_duty = on_duty_sales().values("pk")
    users = get_user_model()
    username, user_pk = quote(users._meta.get_field("username").column), quote(users._meta.pk.column)

    # A new real lead's alert job (leads.tasks.alert_new_leads), as procrastinate's own defer would queue
    # it (tests/test_job_queue.py holds the two to each other).
    from leads.tasks import NEW_LEADS_ALERT_LOCK, alert_new_leads  # the tasks module imports this one's callers

    alert = alert_new_leads.configure().job
    _sql.constants.update(
        job_queue=alert.queue,
        job_task=alert.task_name,
        job_priority=alert.priority,
        job_lock=alert.lock,
        alert_lock=NEW_LEADS_ALERT_LOCK,
        outcome_created=Delivery.Outcome.CREATED,
        outcome_duplicate=Delivery.Outcome.DUPLICATE,
        event_assigned=LeadEvent.Kind.ASSIGNED,
        event_unassigned=LeadEvent.Kind.UNASSIGNED,
        assigned_text=ASSIGNED_TEXT,
        kept_reason=KEPT_REASON,
        turn_reason=TURN_REASON,
        unassigned_text=UNASSIGNED_TEXT,
    )

    def columns(model: type[Model]) -> str:
        fields = {f.name: f for f in model._meta.local_concrete_fields}
        names = [f.name for f in _insert_fields(model)] + list(_SET_IN_SQL.get(model, ()))
        return ", ".join(quote(fields[name].column) for name in names)

    def values(prefix: str, model: type[Model], **set_in_sql: str) -> str:
        """The row's values: the instance's as parameters, then ``_SET_IN_SQL``'s in their order."""
        assert tuple(set_in_sql) == _SET_IN_SQL.get(model, ()), set_in_sql
        return ", ".join([f"%({prefix}__{f.name})s" for f in _insert_fields(model)] + list(set_in_sql.values()))

    # The new lead's line on its timeline: who it went to and why, or that nobody was on duty.
    event_values = values(
        "event",
        LeadEvent,
        lead="created.pk",
        kind="CASE WHEN assignee.pk IS NULL THEN %(event_unassigned)s ELSE %(event_assigned)s END",
        text="CASE WHEN assignee.pk IS NULL THEN %(unassigned_text)s ELSE format(%(assigned_text)s, "
        "assignee.username, CASE WHEN assignee.kept THEN %(kept_reason)s ELSE %(turn_reason)s END) END",
    )
    sql = f"""
        WITH key_works AS (
            {_sql(working_key)}
            UNION ALL SELECT NULL WHERE %(api_key_id)s IS NULL
        ), earlier AS (
            {_sql(earlier)}
        ), owner AS (
            {_sql(owner)}
        ), on_duty AS (
            {_sql(on_duty)}
        ), turn AS (
            SELECT nextval('{ROUND_ROBIN_SEQUENCE}') AS n
            WHERE %(assign)s AND NOT EXISTS (SELECT FROM earlier) AND NOT EXISTS (SELECT FROM owner)
            AND EXISTS (SELECT FROM on_duty)
        ), assignee AS (
            SELECT chosen.pk, users.{username} AS username, chosen.kept FROM (
                SELECT COALESCE(
                    (SELECT * FROM owner),
                    (
                        SELECT pk FROM on_duty ORDER BY pk
                        OFFSET (SELECT (n - 1) % (SELECT count(*) FROM on_duty) FROM turn) LIMIT 1
                    )
                ) AS pk, EXISTS (SELECT FROM owner) AS kept
                WHERE %(assign)s
            ) AS chosen LEFT JOIN {quote(users._meta.db_table)} AS users ON users.{user_pk} = chosen.pk
        ), created AS (
            INSERT INTO {quote(Lead._meta.db_table)} ({columns(Lead)})
            SELECT {values("lead", Lead, assignee="(SELECT pk FROM assignee)", alert_pending="%(assign)s")}
            WHERE NOT EXISTS (SELECT FROM earlier) AND EXISTS (SELECT FROM key_works)
            RETURNING {quote(Lead._meta.pk.column)} AS pk
        ), event AS (
            INSERT INTO {quote(LeadEvent._meta.db_table)} ({columns(LeadEvent)})
            SELECT {event_values}
            FROM created, assignee
        ), alert AS (
            SELECT %(alert_lock)s || COALESCE(assignee.pk::text, '') AS queueing_lock, assignee.pk AS user_id
            FROM created, assignee
        ), job AS (
            -- One alert job waits per recipient: a new lead queues it, or joins the one already waiting,
            -- whose run mails every pending lead of its recipient. The shared lock lets that run wait for
            -- the leads still committing that joined it (leads.sales.notifications.new_leads_alert_send).
            INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args)
            SELECT %(job_queue)s, %(job_task)s, %(job_priority)s, %(job_lock)s, alert.queueing_lock,
                jsonb_build_object('user_id', alert.user_id)
            FROM alert, LATERAL pg_advisory_xact_lock_shared(hashtextextended(alert.queueing_lock, 0)) AS joined
            ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING
        ), stored AS (
            SELECT pk, %(outcome_created)s AS outcome FROM created
            UNION ALL SELECT pk, %(outcome_duplicate)s FROM earlier WHERE EXISTS (SELECT FROM key_works)
        )
        INSERT INTO {quote(Delivery._meta.db_table)} ({columns(Delivery)})
        SELECT {values("delivery", Delivery, lead="stored.pk", outcome="stored.outcome")} FROM stored
        RETURNING lead_id, outcome, (SELECT pk FROM assignee)
    """  # noqa: S608  (names from the models; every value a parameter, or a constant psycopg quotes at PREPARE)
    return sql, _sql.constants


_NAMED_PARAMETER = re.compile(r"%\((\w+)\)s")


def _literals(sql: str, constants: Mapping[str, Any]) -> str:
    """Write the statement's constants in as SQL literals (psycopg quotes them), leaving only each lead's
    own values as parameters: fewer values to send and adapt per lead, and the planner sees the constants."""
    return _NAMED_PARAMETER.sub(lambda m: Literal(constants[m[1]]).as_string() if m[1] in constants else m[0], sql)


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """PREPARE takes ``$1, $2, …``: number the ``%(name)s`` parameters in order of first use."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${names.setdefault(match[1], len(names) + 1)}"

    return _NAMED_PARAMETER.sub(number, sql), tuple(names)


# The lead's id, the outcome, and for a new real lead its assignee's id.
_StoredRow = tuple[int, str, int | None]


class _StoreStatement:
    """``_store_sql``, prepared once per database connection, and run after the dedupe lock.

    Planning the statement costs PostgreSQL more than running it, so it is prepared once per
    connection; PostgreSQL re-plans it by itself after a migration. The lock and the EXECUTE go
    as one simple query, one round trip, which PostgreSQL runs as one transaction (or as part of
    the caller's, inside an atomic block); the statement's snapshot is taken once the lock is
    held, so it sees what the lock's previous holder committed.

    This needs what leads.checks verifies: client-side binding (two statements in one query)
    and session-level connections (PREPARE lives in the session; a pooler in transaction mode
    would lose it). PREPARE outlives a rolled-back transaction, so a connection is marked only
    after its PREPARE succeeded, and a new connection (after a PostgreSQL restart, say) prepares
    it again.
    """

    def __init__(self, matched_on: tuple[str, ...]) -> None:
        self.name = "leads_store_" + "_".join(matched_on)
        numbered, self.parameters = _numbered(_literals(*_store_sql(matched_on)))
        self.prepare = f"PREPARE {self.name} AS {numbered}"
        arguments = ", ".join(["%s"] * len(self.parameters))
        # The phone's lock, and with an id the id's (_dedupe_locks): one per column matched on, each its
        # own statement so that they are taken in order.
        self.locks = len(matched_on)
        lock = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)); "
        # Under the webhook's lock timeout (leads.intake.ledger.LOCK_TIMEOUT), until this query's transaction ends.
        self.execute = f"{LOCK_TIMEOUT}; {lock * self.locks}EXECUTE {self.name}({arguments})"

    def run(self, db: Any, *, locks: tuple[str, ...], values: Mapping[str, Any]) -> _StoredRow | None:
        assert len(locks) == self.locks, locks
        timeout = lock_timeout_parameters()
        with db.cursor() as cursor:
            if self.name not in _prepared_on(db.connection):
                # Planning takes the tables' locks too: under the same timeout.
                prepare = self.prepare.replace("%", "%%")  # its literals' own % signs are not placeholders
                cursor.execute(f"{LOCK_TIMEOUT}; {prepare}", timeout)
                with _prepared_lock:
                    _prepared[db.connection].add(self.name)
            cursor.execute(self.execute, [*timeout, *locks, *(values[name] for name in self.parameters)])
            for _ in range(1 + self.locks):  # past the timeout's and the locks' results, to the statement's
                cursor.nextset()
            row: _StoredRow | None = cursor.fetchone()
            return row


# The statements each psycopg connection (one per thread) has prepared; a connection drops out when closed.
# Kept by name, not per _StoreStatement: threads racing to build the first one may each build their own.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
_prepared_lock = threading.Lock()


def _prepared_on(connection: Any) -> set[str]:
    with _prepared_lock:
        return _prepared.setdefault(connection, set())


@functools.cache
def _store_statement(matched_on: tuple[str, ...]) -> _StoreStatement:
    """One per set of columns a lead is matched on; it depends only on the models, so it is built once per process."""
    return _StoreStatement(matched_on)
