"""Buyers' personal data: erasing one buyer on request, blanking old raw data, and recording exports.

India's DPDP Rules ask us to erase a person's data when they ask, and to delete it once its purpose
is served. A lead's *row* is the dealership's sales history (counts, car models, campaigns, who
followed up), so rows stay; what identifies the buyer (name, phone, the raw payload and ledger body
as the partner sent them, the sales notes) is replaced by a marker.
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
from urllib.parse import unquote_plus

import phonenumbers
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.utils import timezone

from leads.common.bodies import CONTENT_ENCODINGS, NotInflatable, inflate
from leads.common.phones import normalise_phone
from leads.common.streaming import streamed
from leads.models import Delivery, ErasureRecord, ExportRecord, Lead
from raamcrm.logs import mask_phone

ERASED = "[erased]"
ERASED_PAYLOAD = {"erased": True}
ERASED_BODY = ERASED.encode()
# A run of digits and the punctuation people write phones with: "+91 (98765) 432-10" is one run; a quote,
# comma, colon, slash or letter ends it. \d is any Unicode decimal digit, so Devanagari digits count too.
_PHONE_RUN = re.compile(r"\d[\d \t+().\-]*\d")
# A national number shorter than this is too short to look for inside longer runs of digits.
_MIN_NATIONAL_DIGITS = 8
# How much of a gzip or deflate ledger body is inflated to look for a phone in it.
_INFLATE_LIMIT = 1024 * 1024


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
        """Whether ``text`` (a ledger body, a query string) holds this phone in any format.

        Every run of digits and phone punctuation is read: it matches when its digits contain the national
        number (so ``9876543210``, ``09876543210``, ``+91 98765-43210`` and ``0091 98765 43210`` all do), or,
        for a phone that does not parse, when its digits are exactly this phone's digits.
        """
        for candidate in (text, unquote_plus(text)):
            for run in _PHONE_RUN.findall(candidate):
                digits = "".join(str(unicodedata.decimal(char)) for char in run if char.isdecimal())
                if digits == self.digits or (self.national and self.national in digits):
                    return True
        return False


def body_text(body: bytes, *, content_encoding: str) -> str:
    """A ledger body as text for searching: inflated when gzip or deflate (as far as the kept bytes go)."""
    if content_encoding.strip().lower() in CONTENT_ENCODINGS:
        # A body the ledger cut short still inflates up to where it was cut.
        with contextlib.suppress(NotInflatable):
            body = inflate(body, content_encoding=content_encoding, limit=_INFLATE_LIMIT).data
    return body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Erased:
    record: ErasureRecord

    @property
    def nothing(self) -> bool:
        r = self.record
        return not (r.leads_erased or r.deliveries_erased or r.log_entries_erased or r.exports_erased)


def buyer_erase(*, phone: str, requested_by: str) -> Erased:
    """Anonymise every lead and ledger body that holds ``phone``, and record the request.

    Rows stay (the sales history and its counts survive); the buyer's name, phone, payload, notes and
    lead URL become ``[erased]`` (or blank), the ledger bodies of their deliveries become ``[erased]``,
    and so do the admin history's names for those leads. The request is recorded even when nothing
    matched: it shows the buyer was answered.
    """
    target = PhoneTarget.from_text(phone)
    lead_ids = list(Lead.objects.filter(target.leads()).values_list("id", flat=True))
    refused_ids = [
        delivery.pk
        for delivery in Delivery.objects.filter(lead__isnull=True)
        .exclude(body=b"")
        .exclude(body=ERASED_BODY)
        .only("id", "body", "content_encoding")
        .iterator(chunk_size=500)
        if target.mentioned_in(body_text(bytes(delivery.body), content_encoding=delivery.content_encoding))
    ]
    export_ids = [
        export.pk
        for export in ExportRecord.objects.exclude(query="").only("id", "query")
        if target.mentioned_in(export.query)
    ]
    with transaction.atomic():
        leads = Lead.objects.filter(id__in=lead_ids).update(
            name=ERASED,
            phone_number=ERASED,
            phone_e164="",
            phone_valid=False,
            phone_digits="",
            payload=ERASED_PAYLOAD,
            notes=ERASED,
            lead_url="",
        )
        deliveries = (
            Delivery.objects.filter(Q(lead_id__in=lead_ids) | Q(id__in=refused_ids))
            .exclude(body=b"")
            .exclude(body=ERASED_BODY)
            # Marked cut short: what is kept is no longer the whole body, so replay_deliveries leaves it alone.
            .update(body=ERASED_BODY, body_truncated=True, content_encoding="")
        )
        log_entries = (
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Lead), object_id__in=[str(pk) for pk in lead_ids]
            )
            .exclude(object_repr=ERASED)
            .update(object_repr=ERASED)
        )
        exports = ExportRecord.objects.filter(id__in=export_ids).update(query=ERASED)
        record = ErasureRecord.objects.create(
            requested_by=requested_by,
            phone_masked=mask_phone(target.digits),
            leads_erased=leads,
            deliveries_erased=deliveries,
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
