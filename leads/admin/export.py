"""Leads as CSV for Excel: streamed row by row, Unicode-safe, and never a formula."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

from django.db.models import QuerySet
from django.utils import timezone

from leads.models import Lead

COLUMNS: tuple[tuple[str, Callable[[Lead], object]], ...] = (
    ("Received (IST)", lambda lead: timezone.localtime(lead.received_at).strftime("%Y-%m-%d %H:%M")),
    ("Platform", lambda lead: lead.platform),
    ("Name", lambda lead: lead.name),
    ("Phone", lambda lead: lead.phone_e164 or lead.phone_number),
    ("Phone valid", lambda lead: "yes" if lead.phone_valid else "no"),
    ("Car model", lambda lead: lead.car_model),
    ("Campaign", lambda lead: lead.campaign),
    ("Lead URL", lambda lead: lead.lead_url),
    ("Status", lambda lead: lead.get_status_display()),
    ("Assignee", lambda lead: lead.assignee.get_username() if lead.assignee else ""),
    ("Notes", lambda lead: lead.notes),
    ("Lead id", lambda lead: str(lead.public_id)),
)
# Excel reads a UTF-8 file as the local code page unless it starts with a byte order mark.
UTF8_BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(leads: QuerySet[Lead]) -> Iterator[str]:
    """Yield the CSV text line by line; the queryset is read in chunks, so memory stays flat."""
    writer = csv.writer(_Echo())
    yield UTF8_BOM + writer.writerow([title for title, _ in COLUMNS])
    for lead in leads.select_related("assignee").iterator(chunk_size=2000):
        yield writer.writerow([neutralise(str(value(lead))) for _, value in COLUMNS])
