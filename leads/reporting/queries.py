"""The managers' report and the monthly partner reconciliation: grouped counts computed in PostgreSQL.

Every figure is one aggregate query over the chosen dates, so the report costs the same whether the table holds a
thousand leads or a million; no lead row reaches Python. The report's queries read only the columns its covering
index ``lead_report_idx`` holds (an index-only scan): a year is a third of the table, and its whole rows are ten
times the index's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from leads.common.days import day_start
from leads.models import Delivery, Lead
from leads.partners import PARTNERS

# A lead counts as having reached a stage by its status now: a lead "booked" today passed through
# "test drive booked" on the way. The statuses' history is not kept in one place the report could group.
REACHED_TEST_DRIVE = (Lead.Status.TEST_DRIVE_BOOKED, Lead.Status.BOOKED)


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: the median of the values, NULLs left out (an interval stays one)."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass(frozen=True)
class LeadFigures:
    """One line of the managers' report. Shares are of the leads received (0 to 1); None where nothing to share."""

    group: tuple[str, ...]
    received: int
    median_to_first_contact: timedelta | None
    contacted_within_sla: float | None
    reached_test_drive: float | None
    booked: float | None
    # The first call that reached the buyer ("connected"), apart from the first attempt above (issue 23).
    median_to_first_conversation: timedelta | None = None


def _measures() -> dict[str, Any]:
    # Counted on received_at, never NULL (so the same numbers as counting ids), since the covering index holds it.
    measures: dict[str, Any] = {
        "received": Count("received_at"),
        "test_drive": Count("received_at", filter=Q(status__in=REACHED_TEST_DRIVE)),
        "booked_count": Count("received_at", filter=Q(status=Lead.Status.BOOKED)),
    }
    delay = ExpressionWrapper(F("first_contacted_at") - F("received_at"), output_field=DurationField())
    measures["median_delay"] = Median(delay, output_field=DurationField())
    talk = ExpressionWrapper(F("first_connected_at") - F("received_at"), output_field=DurationField())
    measures["median_talk"] = Median(talk, output_field=DurationField())
    # Business minutes to first contact are kept on each lead (leads.sales.sla.first_contact): no calendar here.
    measures["within_sla"] = Count(
        "received_at", filter=Q(first_contact_business_minutes__lte=settings.LEAD_FIRST_CONTACT_MINUTES)
    )
    return measures


def _figures(group: tuple[str, ...], row: dict[str, Any]) -> LeadFigures:
    received = row["received"]

    def share(key: str) -> float | None:
        return row[key] / received if received and key in row else None

    return LeadFigures(
        group=group,
        received=received,
        median_to_first_contact=row.get("median_delay"),
        contacted_within_sla=share("within_sla"),
        reached_test_drive=share("test_drive"),
        booked=share("booked_count"),
        median_to_first_conversation=row.get("median_talk"),
    )


def received_between(first: date, last: date) -> QuerySet[Lead]:
    """Real leads received from the start of IST day ``first`` to the end of IST day ``last``."""
    return Lead.objects.real().filter(received_at__gte=day_start(first), received_at__lt=day_start(last + timedelta(1)))


def lead_figures_total(*, first: date, last: date) -> LeadFigures:
    return _figures(("All leads",), received_between(first, last).aggregate(**_measures()))


def lead_figures_by_salesperson(*, first: date, last: date) -> list[LeadFigures]:
    # Grouped by the assignee's id, which the covering index holds, and named afterwards from the few users: the
    # range's leads are then sorted by a number, not joined to the users and sorted by three names.
    rows = {row["assignee"]: row for row in received_between(first, last).values("assignee").annotate(**_measures())}
    users = User.objects.filter(pk__in=[pk for pk in rows if pk is not None]).order_by("username")
    figures = []
    for user in users:
        full_name = f"{user.first_name} {user.last_name}".strip()
        figures.append(_figures((f"{full_name} ({user.username})" if full_name else user.username,), rows[user.pk]))
    if None in rows:
        figures.append(_figures(("Unassigned",), rows[None]))
    return figures


def lead_figures_by_campaign(*, first: date, last: date) -> list[LeadFigures]:
    rows = received_between(first, last).values("platform", "campaign").annotate(**_measures())
    return [
        _figures((row["platform"], row["campaign"] or "(no campaign)"), row)
        for row in rows.order_by("platform", "campaign")
    ]


@dataclass(frozen=True)
class LeadReport:
    """The managers' report for IST days ``first`` to ``last``: all leads, then by salesperson and by campaign."""

    first: date
    last: date
    total: LeadFigures
    by_salesperson: list[LeadFigures]
    by_campaign: list[LeadFigures]
    # When its queries began; and whether it is kept as a snapshot (leads.reporting.snapshots), read again later.
    worked_out_at: datetime
    kept: bool = False


def lead_report(*, first: date, last: date) -> LeadReport:
    started = timezone.now()
    return LeadReport(
        first=first,
        last=last,
        total=lead_figures_total(first=first, last=last),
        by_salesperson=lead_figures_by_salesperson(first=first, last=last),
        by_campaign=lead_figures_by_campaign(first=first, last=last),
        worked_out_at=started,
    )


@dataclass(frozen=True)
class PartnerMonth:
    """What one partner sent in a month, to check against its invoice."""

    platform: str
    leads: int
    duplicates: int
    invalid_phones: int
    test_leads: int


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The IST month holding ``month``: its first instant and the next month's."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return day_start(first), day_start(following)


def partner_reconciliation(*, month: date) -> list[PartnerMonth]:
    """Per partner, for the IST calendar month holding ``month``: its real leads, the resends it was told were
    duplicates, the real leads whose phone did not parse, and its test leads (counted only here)."""
    start, end = month_bounds(month)
    leads = {
        row["platform"]: row
        for row in Lead.objects.filter(received_at__gte=start, received_at__lt=end)
        .values("platform")
        .annotate(
            leads=Count("id", filter=Q(is_test=False)),
            invalid_phones=Count("id", filter=Q(is_test=False, phone_valid=False)),
            test_leads=Count("id", filter=Q(is_test=True)),
        )
        .order_by()
    }
    # Requests from the partners' production keys only: staging keys' resends and our own replays are not billed.
    duplicates = {
        row["platform"]: row["n"]
        for row in Delivery.objects.from_partners()
        .filter(outcome=Delivery.Outcome.DUPLICATE, received_at__gte=start, received_at__lt=end)
        .values("platform")
        .annotate(n=Sum("repeats"))
        .order_by()
    }
    empty = {"leads": 0, "invalid_phones": 0, "test_leads": 0}
    return [
        PartnerMonth(
            platform=partner.name,
            leads=leads.get(partner.name, empty)["leads"],
            duplicates=duplicates.get(partner.name) or 0,
            invalid_phones=leads.get(partner.name, empty)["invalid_phones"],
            test_leads=leads.get(partner.name, empty)["test_leads"],
        )
        for partner in PARTNERS
    ]


def leads_per_day(*, days: int = 30, today: date | None = None) -> tuple[list[date], dict[str, list[int]]]:
    """Leads received per IST day and platform over the last ``days`` days, today included."""
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = day_start(first)
    dates = [first + timedelta(days=offset) for offset in range(days)]
    rows = (
        Lead.objects.real()
        .filter(received_at__gte=start)
        .annotate(day=TruncDate("received_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "platform")
        .annotate(n=Count("id"))
    )
    series: dict[str, list[int]] = {partner.name: [0] * days for partner in PARTNERS}
    for row in rows:
        index = (row["day"] - first).days
        if 0 <= index < days and row["platform"] in series:
            series[row["platform"]][index] = row["n"]
    return dates, series
