"""Replaying refused deliveries: the ledger kept their bodies, so today's mapping can store them.

A partner renamed a field, its leads got 400 (which partners do not retry), an admin added the
alias (``field_alias``): replaying those deliveries stores the buyers they carried. A replayed
lead keeps the time it first arrived and is linked from the delivery that brought it; a delivery
already linked to a lead is never replayed again, so replaying twice stores one lead, not two.
A 429 for the partner's hard ceiling whose very body the partner sent again within RETRIES_WITHIN and got
stored (the retry our guide asks for) is linked to that lead rather than stored again.
A buyer erased since a delivery came (``erase_buyer`` keeps their phone's digest, ErasedPhone) is never stored
from it again; a delivery that came after the erasure is their new enquiry, and is stored as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import APIException

from leads.common.phones import normalise_phone
from leads.intake.batches import batch_ingest, refused_keep
from leads.intake.ledger import LEAD_STORED_STATUS, DeliveryRequest
from leads.intake.mapping import lead_map
from leads.intake.parsing import batch_lead, lead_batch, payload_from, reading_notes
from leads.intake.store import MissingFields, lead_ingest
from leads.models import ENVIRONMENT_PREFIX, REPLAY_REQUEST_PREFIX, ApiKey, Delivery, ErasedPhone, Lead
from leads.partners import Partner, get_partner_by_name

# How long after a refusal a partner's retries of the same body are looked for: backoff that doubles from
# seconds reaches hours, not days.
RETRIES_WITHIN = timedelta(days=1)


@dataclass(frozen=True)
class Replayed:
    delivery: Delivery
    lead: Lead | None  # the lead it is now linked to, when stored (or found already stored)
    duplicate: bool = False
    refused: str = ""  # why it is still refused
    skipped: str = ""  # why it was not replayed at all
    batch_refused: int = 0  # a batch's leads still refused, each now on a ledger row of its own
    batch_erased: int = 0  # a batch's leads left out: their buyers were erased since it came

    @property
    def kind(self) -> str:
        if self.skipped or self.refused:
            return "skipped" if self.skipped else "refused"
        return "duplicate" if self.duplicate else "stored"

    def describe(self) -> str:
        d = self.delivery
        received = timezone.localtime(d.received_at)
        what = f"delivery {d.pk} ({d.platform}, {received:%Y-%m-%d %H:%M} IST, was {d.status_code})"
        if self.skipped:
            return f"{what}: skipped, {self.skipped}"
        if self.refused:
            return f"{what}: still refused: {self.refused}"
        assert self.lead is not None
        kind = "the same buyer as lead" if self.duplicate else "stored as lead"
        rest = f"; {self.batch_refused} of its batch still refused, each kept apart" if self.batch_refused else ""
        if self.batch_erased:
            rest += f"; {self.batch_erased} of its batch skipped, their buyers erased since"
        return f"{what}: {kind} {self.lead.public_id}{rest}"


def replayable_deliveries(
    *,
    partner: Partner | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: list[int] | None = None,
    statuses: list[int] | None = None,
) -> QuerySet[Delivery]:
    """Refused deliveries (``Delivery.objects.refused()``) whose whole body was kept and that brought no lead yet."""
    deliveries = Delivery.objects.refused().filter(lead__isnull=True, body_truncated=False)
    deliveries = deliveries.exclude(platform="").exclude(body=b"")
    if partner:
        deliveries = deliveries.filter(platform=partner.name)
    if since:
        deliveries = deliveries.filter(received_at__gte=since)
    if until:
        deliveries = deliveries.filter(received_at__lt=until)
    if ids:
        deliveries = deliveries.filter(pk__in=ids)
    if statuses:
        deliveries = deliveries.filter(status_code__in=statuses)
    return deliveries.order_by("received_at", "pk")


def delivery_replay(delivery: Delivery) -> Replayed:
    """Read ``delivery``'s body again with today's mapping and store its lead, once."""
    with transaction.atomic():
        # Locked, so two replays of one delivery at once still store one lead.
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.lead_id is not None:
            return Replayed(delivery=delivery, lead=delivery.lead, skipped="it is already linked to a lead")
        partner = get_partner_by_name(delivery.platform)
        if partner is None:
            return Replayed(delivery=delivery, lead=None, skipped=f"no partner is called {delivery.platform!r}")
        keys = ApiKey.objects.filter(prefix=delivery.key_prefix)
        if delivery.key_prefix != ENVIRONMENT_PREFIX and not keys.active(at=delivery.received_at).exists():
            # Sent in the minute a process still trusted a key just revoked: refused for its body or the
            # ceiling, never checked against the key again. Its lead is not to be stored on that key's word.
            return Replayed(
                delivery=delivery, lead=None, skipped=f"its key {delivery.key_prefix} no longer worked when it came"
            )
        body = bytes(delivery.body)
        is_test = keys.filter(is_test=True).exists()
        retried = _retry_stored(delivery, body=body, is_test=is_test) if delivery.status_code == 429 else None
        if retried is not None:
            return _linked(delivery, retried, duplicate=True)
        request = DeliveryRequest(
            partner=partner,
            client_ip=delivery.client_ip,
            request_id=f"{REPLAY_REQUEST_PREFIX}{delivery.pk}",
            is_replay=True,
            key_prefix=delivery.key_prefix,
            body=body,
            content_type=delivery.content_type,
            content_encoding=delivery.content_encoding,
            idempotency_key=delivery.partner_lead_id,
        )
        try:
            # Read as the webhook read it, noting what had to be guessed or forgiven, for the new row to say so too.
            with reading_notes() as notes:
                batch = lead_batch(body, content_type=delivery.content_type, content_encoding=delivery.content_encoding)
                payload = (
                    None
                    if batch is not None
                    else payload_from(
                        body, content_type=delivery.content_type, content_encoding=delivery.content_encoding
                    )
                )
        except APIException as exc:
            return Replayed(delivery=delivery, lead=None, refused=str(exc.detail))
        request = replace(request, read_notes=tuple(notes))
        if batch is not None:
            return _batch_replay(delivery, partner=partner, leads=batch, request=request, is_test=is_test)
        assert payload is not None
        try:
            if erasure := _erasure_since(delivery, partner=partner, payload=payload):
                erased_on = timezone.localtime(erasure.erased_at)
                return Replayed(
                    delivery=delivery,
                    lead=None,
                    skipped=f"its buyer was erased on {erased_on:%Y-%m-%d %H:%M} IST, after it came (erase_buyer)",
                )
            result = lead_ingest(
                partner=partner,
                payload=payload,
                delivery=request,
                # A refused row keeps the Idempotency-Key it was sent with (leads.intake.ledger.delivery_build).
                idempotency_key=delivery.partner_lead_id,
                is_test=is_test,
                received_at=delivery.received_at,
            )
        except APIException as exc:
            return Replayed(delivery=delivery, lead=None, refused=str(exc.detail))
        except MissingFields as exc:
            return Replayed(delivery=delivery, lead=None, refused=str(exc))
        return _linked(delivery, result.lead, duplicate=result.duplicate)


def _batch_replay(
    delivery: Delivery, *, partner: Partner, leads: list[object], request: DeliveryRequest, is_test: bool
) -> Replayed:
    """A batch refused whole (over the batch cap, or the hard ceiling): its leads stored one by one, the delivery
    linked to the first stored, and each still refused kept on a row of its own (leads.intake.batches). Leads of
    buyers erased since it came are left out, and not kept."""
    kept = [lead for lead in leads if not _erasure_since(delivery, partner=partner, payload=lead)]
    if not kept:
        return Replayed(delivery=delivery, lead=None, skipped="the buyers of all its leads were erased since it came")
    entries = batch_ingest(
        partner=partner, leads=kept, delivery=request, is_test=is_test, received_at=delivery.received_at
    )
    stored = [entry.result for entry in entries if entry.result is not None]
    if not stored:  # nothing written: the delivery stays as it was, to be replayed whole once more
        return Replayed(delivery=delivery, lead=None, refused="; ".join(dict.fromkeys(e.error for e in entries)))
    refused_keep(entries)
    # Each lead still refused is a delivery of its own now, to be replayed later: it came when the batch came, as a
    # refused single delivery keeps its time (for --since/--until, and for the key's check at that time).
    Delivery.objects.filter(request_id=request.request_id, lead__isnull=True).update(received_at=delivery.received_at)
    replayed = _linked(delivery, stored[0].lead, duplicate=stored[0].duplicate)
    return replace(replayed, batch_refused=len(entries) - len(stored), batch_erased=len(leads) - len(kept))


def _erasure_since(delivery: Delivery, *, partner: Partner, payload: object) -> ErasedPhone | None:
    """The erasure of the buyer ``payload`` would be stored as (the phone today's mapping reads), when it came
    after ``delivery``: that buyer asked to be forgotten since, and this is not a new enquiry of theirs."""
    try:
        phone = lead_map(partner=partner, payload=batch_lead(payload)).phone_number
    except (MissingFields, APIException):  # no lead to store: it stays refused, as it would anyway
        return None
    erasures = ErasedPhone.objects.of(normalise_phone(phone).digits).filter(erased_at__gt=delivery.received_at)
    return erasures.order_by("-erased_at").first()


def _linked(delivery: Delivery, lead: Lead, *, duplicate: bool) -> Replayed:
    """``delivery`` linked to the lead it brought, now replayed."""
    delivery.lead, delivery.replayed_at = lead, timezone.now()
    delivery.save(update_fields=["lead", "replayed_at"])
    return Replayed(delivery=delivery, lead=lead, duplicate=duplicate)


def _retry_stored(delivery: Delivery, *, body: bytes, is_test: bool) -> Lead | None:
    """The lead that the partner's retry of ``delivery`` (the same body, by a real webhook, within
    RETRIES_WITHIN) stored, if one did: a live lead for a live key's delivery, a test lead for a test key's."""
    retry = (
        Delivery.objects.filter(
            platform=delivery.platform,
            received_at__gt=delivery.received_at,
            received_at__lte=delivery.received_at + RETRIES_WITHIN,
            status_code=LEAD_STORED_STATUS,
            body=body,
            lead__is_test=is_test,
        )
        .filter(is_replay=False)
        .order_by("received_at")
        .select_related("lead")
        .first()
    )
    return retry.lead if retry is not None else None
