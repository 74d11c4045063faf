"""Buyers' personal data: erasing one buyer on request, blanking old raw data, and recording exports.

India's DPDP Rules ask us to erase a person's data when they ask, and to delete it once its purpose
is served. A lead's *row* is the dealership's sales history (counts, car models, campaigns, who
followed up), so rows stay; what identifies the buyer (name, phone, the raw payload and ledger body
as the partner sent them, the partner's ids for them, the sales notes) is replaced by a marker. Kept bodies are
read as the intake reads them (leads.intake.parsing) before they are searched, so the phone is found however
it was sent; and a keyed digest of the phone is kept, so a replay never brings the buyer back.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import phonenumbers
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils import timezone
from rest_framework.exceptions import APIException

from leads.common.bodies import CONTENT_ENCODINGS, NotInflatable, inflate
from leads.common.phones import normalise_phone
from leads.common.streaming import streamed
from leads.intake.parsing import body_text, lead_batch, payload_from
from leads.models import Delivery, ErasedPhone, ErasureRecord, ExportRecord, Lead, LeadNote, erased_phone_digest
from raamcrm.logs import mask_phone

ERASED = "[erased]"
ERASED_PAYLOAD = {"erased": True}
ERASED_BODY = ERASED.encode()
# A phone as people write it: digits with up to three characters between them that are not letters, nor what
# divides one JSON or form value from the next: "+91 (98765) 432-10", "98765/43210" and "98765 - 43210" are
# one run each; in '"98765", "pin": "43210"' or 'mobile=98765&pin=43210' the quote, comma, colon, = or & ends
# it. \d is any Unicode decimal digit, so Devanagari digits count too.
_PHONE_RUN = re.compile(r"\d(?:[^\w\"',:;=&{}\[\]<>\\\r\n]{0,3}\d)*")
# A national number shorter than this is too short to look for inside longer runs of digits.
_MIN_NATIONAL_DIGITS = 8
# How much of a gzip or deflate ledger body cut short is inflated to look for a phone in it.
_INFLATE_LIMIT = 1024 * 1024
# A JSON string escape, for a body too malformed for the intake to read: "\u0039" is a 9.
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# A word of a name, for finding it in an error text or an export's filter: letters only, two or more.
_NAME_WORD = re.compile(r"[^\W\d_]{2,}")


class NotAPhone(ValueError):
    pass


@dataclass(frozen=True)
class PhoneTarget:
    """What to look for: the normalised digits (Lead.phone_digits) and, when the phone parses, its national number."""

    digits: str
    national: str  # "" when the phone does not parse, or is too short to search inside longer runs

    @classmethod
    def from_text(cls, raw: str) -> PhoneTarget:
        normalised = normalise_phone(raw)
        if not normalised.digits:
            raise NotAPhone(f"{raw!r} has no digits; give the buyer's phone number in any format.")
        national = ""
        if normalised.e164:
            number = phonenumbers.parse(normalised.e164)
            national = phonenumbers.national_significant_number(number)
        return cls(digits=normalised.digits, national=national if len(national) >= _MIN_NATIONAL_DIGITS else "")

    def leads(self) -> Q:
        """Leads holding this phone: the same normalised digits, as ingest and the admin's phone search store them.

        A lead whose phone did not parse (two numbers in one field, extra digits) also matches when its digits
        contain the national number; a lead whose phone parsed matches only exactly, so another valid number
        that merely contains these digits is never erased.
        """
        same = Q(phone_digits=self.digits)
        if self.national:
            same |= Q(phone_e164="", phone_digits__contains=self.national)
        return same

    def mentioned_in(self, text: str) -> bool:
        """Whether ``text`` (one of a body's texts, a query string) holds this phone in any format.

        Every run of digits and separators is read: it matches when its digits contain the national number (so
        ``9876543210``, ``09876543210``, ``98765/43210``, ``+91-98765-43210`` and ``0091 98765 43210`` all do),
        or, for a phone that does not parse, when its digits are exactly this phone's digits.
        """
        for candidate in (text, unquote_plus(text)):
            for run in _PHONE_RUN.findall(candidate):
                digits = "".join(str(unicodedata.decimal(char)) for char in run if char.isdecimal())
                if digits == self.digits or (self.national and self.national in digits):
                    return True
        return False


@dataclass(frozen=True)
class Buyer:
    """The buyer being erased: their phone, each erased lead's name (as its words) and partner lead ids."""

    phone: PhoneTarget
    names: tuple[tuple[str, ...], ...]
    partner_lead_ids: frozenset[str]

    @classmethod
    def of(cls, phone: PhoneTarget, *, names: list[str], partner_lead_ids: list[str]) -> Buyer:
        return cls(
            phone=phone,
            names=tuple(words for name in names if name != ERASED if (words := tuple(_words(name)))),
            partner_lead_ids=frozenset(pk for pk in partner_lead_ids if pk),
        )

    def named_in(self, text: str) -> bool:
        """Whether ``text`` (an error, an export's filter) gives the buyer away: their phone, or one of their names
        whole, its words in order ("Rajesh Kumar", "rajesh/kumar"). A single word is not enough: a buyer called
        "Customer" must not erase every error about a missing customer_name."""
        words = _words(text)
        return self.phone.mentioned_in(text) or any(_holds(words, name) for name in self.names)

    def searched_for(self, value: str) -> bool:
        """Whether an export's filter value looked for the buyer: ``named_in``, or a search made only of words of
        one of their names of three letters or more (``?q=Rajesh`` for Rajesh Kumar). It errs toward erasing: a
        search for another Kumar loses its text too, but keeps who exported, when and how many rows."""
        words = [word for word in _words(value) if len(word) >= 3]
        return self.named_in(value) or (bool(words) and any(set(words) <= set(name) for name in self.names))

    def id_is_theirs(self, partner_lead_id: str) -> bool:
        """A partner's lead id or Idempotency-Key of theirs: one their erased leads came with, or one holding their
        phone. Never by a name: ids are short codes, and a name's letters turn up in other buyers' ids."""
        return partner_lead_id in self.partner_lead_ids or self.phone.mentioned_in(partner_lead_id)


def _words(text: str) -> list[str]:
    return _NAME_WORD.findall(unicodedata.normalize("NFKC", unquote_plus(text)).casefold())


def _holds(words: list[str], name: tuple[str, ...]) -> bool:
    """Whether ``name``'s words come one after another in ``words``."""
    return any(tuple(words[start : start + len(name)]) == name for start in range(len(words) - len(name) + 1))


def body_texts(body: bytes, *, content_type: str, content_encoding: str) -> list[str]:
    """Every text a kept body carries, read as the intake reads a lead (leads.intake.parsing), so that a phone
    is found in whatever form it came: JSON escapes undone, form fields unquoted, multipart parts decoded from
    base64 or quoted-printable in their charsets, UTF-16 and gzip or deflate read. The body's own text comes
    too, for a body that reads as no lead (malformed, or cut short by the ledger): inflated as far as its bytes
    go, with any JSON escapes in it undone.
    """
    texts: list[str] = []
    # The intake's answers for a body it cannot read (ParseError, 413, 415) are all APIExceptions.
    with contextlib.suppress(APIException, ValueError, RecursionError):
        read = lead_batch(body, content_type=content_type, content_encoding=content_encoding)
        if read is None:
            read = [payload_from(body, content_type=content_type, content_encoding=content_encoding)]
        texts.extend(_strings(read))
    if content_encoding.strip().lower() in CONTENT_ENCODINGS:
        # A body the ledger cut short still inflates up to where it was cut.
        with contextlib.suppress(NotInflatable):
            body = inflate(body, content_encoding=content_encoding, limit=_INFLATE_LIMIT).data
    text = body_text(body, content_type=content_type)
    texts += [text, _JSON_ESCAPE.sub(lambda escape: chr(int(escape[1], 16)), text)]
    return texts


def _strings(value: Any) -> Iterator[str]:
    """Each string and number in a parsed body, keys too: one value is one text, so that two numbers in two
    fields never join into one phone."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            yield str(item)


@dataclass(frozen=True)
class Erased:
    record: ErasureRecord

    @property
    def nothing(self) -> bool:
        r = self.record
        return not (r.leads_erased or r.deliveries_erased or r.log_entries_erased or r.exports_erased)


def buyer_erase(*, phone: str, requested_by: str) -> Erased:
    """Anonymise every lead and ledger row that holds ``phone``, keep its digest, and record the request.

    Rows stay (the sales history and its counts survive); the buyer's name, phone, payload, notes, lead URL
    and partner's lead id become ``[erased]`` (or blank), and so do the admin history's names for those leads.
    On the ledger: the bodies of their deliveries, and of refused ones that hold the phone, become
    ``[erased]``; those rows lose their partner's lead id (or Idempotency-Key) too; and any row's error text
    or partner's id, and any export's filter, that names the buyer (by phone or a word of their name) is
    erased. The phone's keyed digest (ErasedPhone) stops replay_deliveries storing this buyer again from a
    delivery received before now. The request is recorded even when nothing matched: it shows the buyer was
    answered.
    """
    target = PhoneTarget.from_text(phone)
    leads = list(Lead.objects.filter(target.leads()).values_list("id", "name", "partner_lead_id"))
    lead_ids = [pk for pk, _, _ in leads]
    buyer = Buyer.of(target, names=[name for _, name, _ in leads], partner_lead_ids=[pk for _, _, pk in leads])
    refused_ids = [
        delivery.pk
        for delivery in Delivery.objects.filter(lead__isnull=True)
        .exclude(body=b"")
        .exclude(body=ERASED_BODY)
        .only("id", "body", "content_type", "content_encoding")
        .iterator(chunk_size=500)
        if any(
            target.mentioned_in(text)
            for text in body_texts(
                bytes(delivery.body), content_type=delivery.content_type, content_encoding=delivery.content_encoding
            )
        )
    ]
    naming_id, naming_error = set(), set()
    for pk, error, partner_lead_id in (
        Delivery.objects.exclude(error="", partner_lead_id="")
        .values_list("id", "error", "partner_lead_id")
        .iterator(chunk_size=2000)
    ):
        if partner_lead_id and buyer.id_is_theirs(partner_lead_id):
            naming_id.add(pk)
        if error and error != ERASED and buyer.named_in(error):
            naming_error.add(pk)
    export_ids = [
        export.pk
        for export in ExportRecord.objects.exclude(query="").exclude(query=ERASED).only("id", "query")
        if any(buyer.searched_for(value) for _, value in parse_qsl(export.query, keep_blank_values=True))
        or target.mentioned_in(export.query)
    ]
    with transaction.atomic():
        erased_leads = Lead.objects.filter(id__in=lead_ids).update(
            name=ERASED,
            phone_number=ERASED,
            phone_e164="",
            phone_valid=False,
            phone_digits="",
            payload=ERASED_PAYLOAD,
            notes=ERASED,
            name_latin="",
            lead_url="",
            partner_lead_id="",
        )
        # The sales team's notes on those leads speak of the buyer; who wrote them, and when, stays.
        LeadNote.objects.filter(lead_id__in=lead_ids).update(text=ERASED)
        theirs = Delivery.objects.filter(Q(lead_id__in=lead_ids) | Q(id__in=refused_ids))
        bodies = set(theirs.exclude(body=b"").exclude(body=ERASED_BODY).values_list("id", flat=True))
        ids = naming_id | set(theirs.exclude(partner_lead_id="").values_list("id", flat=True))
        # Marked cut short: what is kept is no longer the whole body, so replay_deliveries leaves it alone.
        Delivery.objects.filter(id__in=bodies).update(body=ERASED_BODY, body_truncated=True, content_encoding="")
        Delivery.objects.filter(id__in=ids).update(partner_lead_id="")
        Delivery.objects.filter(id__in=naming_error).update(error=ERASED)
        log_entries = (
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Lead), object_id__in=[str(pk) for pk in lead_ids]
            )
            .exclude(object_repr=ERASED)
            .update(object_repr=ERASED)
        )
        exports = ExportRecord.objects.filter(id__in=export_ids).update(query=ERASED)
        now = timezone.now()
        # Kept however little matched: a delivery of theirs that no search here could read is still never replayed.
        ErasedPhone.objects.update_or_create(digest=erased_phone_digest(target.digits), defaults={"erased_at": now})
        record = ErasureRecord.objects.create(
            requested_by=requested_by,
            performed_at=now,
            phone_masked=mask_phone(target.digits),
            leads_erased=erased_leads,
            deliveries_erased=len(bodies | ids | naming_error),
            log_entries_erased=log_entries,
            exports_erased=exports,
        )
    return Erased(record=record)


def raw_data_expire(*, received_before: datetime, batch_size: int) -> tuple[int, int]:
    """Blank the raw payloads of leads, and the ledger bodies of deliveries, received before the cut-off.

    Returns (leads, deliveries) changed. The mapped fields stay. Walks by id in small transactions, so
    webhooks keep writing while a year of rows is blanked.
    """
    leads = _in_batches(
        Lead.objects.filter(received_at__lt=received_before).exclude(payload={}),
        batch_size=batch_size,
        changes={"payload": {}},
    )
    deliveries = _in_batches(
        Delivery.objects.filter(Q(received_at__lt=received_before) | Q(lead__received_at__lt=received_before)).exclude(
            body=b""
        ),
        batch_size=batch_size,
        changes={"body": b""},
    )
    return leads, deliveries


def _in_batches(rows: Any, *, batch_size: int, changes: dict[str, Any]) -> int:
    changed = 0
    last_id = 0
    while True:
        with transaction.atomic():
            ids = list(rows.filter(id__gt=last_id).order_by("id").values_list("id", flat=True)[:batch_size])
            if not ids:
                return changed
            changed += rows.model.objects.filter(id__in=ids).update(**changes)
            last_id = ids[-1]


def export_record_start(*, user: Any, kind: str, query: str) -> ExportRecord:
    return ExportRecord.objects.create(user=user, username=user.get_username(), kind=kind, query=query)


def export_record_finish(record: ExportRecord, lines_sent: int, complete: bool, *, header_lines: int = 1) -> None:
    """Store how many rows an export handed to the client and whether it ended (leads.common.streaming reports
    both as the download closes).

    The record exists before the first row, so even an export cut short is on file; the count is of rows
    actually handed over, known only when the stream ends (no second COUNT over the whole list).
    """
    ExportRecord.objects.filter(pk=record.pk).update(
        row_count=max(lines_sent - header_lines, 0), finished_at=timezone.now(), complete=complete
    )


def recorded_csv_download(
    *, user: Any, kind: str, query: str, filename: str, lines: Iterator[str]
) -> StreamingHttpResponse:
    """A CSV download, on file (ExportRecordAdmin): who, when, which filter, and how many rows reached them.

    Streamed by the ASGI server in flat memory (leads.common.streaming), which reports the rows handed over.
    """
    record = export_record_start(user=user, kind=kind, query=query)
    lines_served = streamed(lines, finished=functools.partial(export_record_finish, record))
    response = StreamingHttpResponse(lines_served, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
