"""The lead list as CSV for Excel (leads.common.csv), streamed row by row."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.db.models import QuerySet
from django.utils import timezone

from leads.common.csv import excel_csv_lines
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


def csv_rows(leads: QuerySet[Lead]) -> Iterator[str]:
    """Yield the CSV text line by line; the queryset is read in chunks, so memory stays flat."""
    rows = (
        (value(lead) for _, value in COLUMNS) for lead in leads.select_related("assignee").iterator(chunk_size=2000)
    )
    return excel_csv_lines([title for title, _ in COLUMNS], (list(row) for row in rows))
