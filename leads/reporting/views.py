"""The Sales managers' screens: the managers' report and the monthly partner reconciliation, on screen and as CSV.

Plain Sales users never see them; superusers do. The figures come from leads.reporting.queries; partner data (campaigns)
and names are escaped by the templates and neutralised in CSV like every other export.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from leads.common.csv import excel_csv_lines
from leads.common.days import EARLIEST_DAY, LATEST_DAY, days_in, ist_datetime
from leads.ops.privacy import recorded_csv_download
from leads.reporting import queries as reports
from leads.reporting import snapshots
from leads.reporting.dashboard import leads_chart
from leads.reporting.snapshots import DEFAULT_DAYS
from leads.sales.permissions import is_manager

# A year and a day covers any calendar year; a longer range reads more of the table than a screen should.
LONGEST_RANGE_DAYS = 366
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def index_context(request: HttpRequest) -> dict[str, Any]:
    """What the admin's home page shows of the leads: the last 30 days' chart, and a link to the reports."""
    context: dict[str, Any] = {"can_see_reports": can_see_reports(request.user)}
    if request.user.has_perm("leads.view_lead"):
        context["leads_chart"] = leads_chart(*reports.leads_per_day(days=30))
    return context


def can_see_reports(user: AbstractBaseUser | AnonymousUser) -> bool:
    return isinstance(user, User) and user.is_staff and is_manager(user)


class ReportRangeForm(forms.Form):
    first = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        # The dates as typed are checked before a missing one is filled in from them.
        for label, day in (("From", cleaned.get("first")), ("To", cleaned.get("last"))):
            if day and not EARLIEST_DAY <= day <= LATEST_DAY:
                raise forms.ValidationError(
                    f"“{label}” date {day.isoformat()} is outside {EARLIEST_DAY.isoformat()} to "
                    f"{LATEST_DAY.isoformat()}; choose a date in that range."
                )
        last = cleaned.get("last") or timezone.localdate()
        first = cleaned.get("first") or max(EARLIEST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
        if first > last:
            raise forms.ValidationError(
                f"“From” ({first.isoformat()}) is after “To” ({last.isoformat()}); swap them or pick another range."
            )
        if days_in(first, last) > LONGEST_RANGE_DAYS:
            raise forms.ValidationError(
                f"The report covers at most {LONGEST_RANGE_DAYS} days at a time; "
                f"{first.isoformat()} to {last.isoformat()} is {days_in(first, last)}."
            )
        cleaned["first"], cleaned["last"] = first, last
        return cleaned


class MonthForm(forms.Form):
    month = forms.CharField(
        label="Month", required=False, max_length=7, widget=forms.TextInput(attrs={"type": "month"})
    )

    def clean_month(self) -> date:
        raw = self.cleaned_data.get("month", "")
        if not raw:
            # This month: the one the team is working, and the one whose figures change while they look.
            return timezone.localdate().replace(day=1)
        match = _MONTH.match(raw)
        if match is None or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError(f"{raw[:20]!r} is not a month like 2025-01.")
        try:
            month: date | None = date(int(match[1]), int(match[2]), 1)
        except ValueError:  # year 0
            month = None
        if month is None or not EARLIEST_DAY <= month <= LATEST_DAY.replace(day=1):
            raise forms.ValidationError(f"{raw} is outside {EARLIEST_DAY:%Y-%m} to {LATEST_DAY:%Y-%m}.")
        return month


# --- how figures read ------------------------------------------------------------------------------


def share_text(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f} %"


def delay_text(delay: timedelta | None) -> str:
    if delay is None:
        return "-"
    minutes = round(delay.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _number(value: float | None, scale: float = 1) -> str:
    return "" if value is None else f"{value * scale:.1f}"


FIGURE_TITLES = (
    "Leads received",
    "Median time to first attempt",
    "Contacted within the SLA",
    "Reached test drive booked",
    "Booked",
    "Median time to first conversation",
)
CSV_FIGURE_TITLES = (
    "Leads received",
    "Median minutes to first contact",
    "Contacted within the SLA (%)",
    "Reached test drive booked (%)",
    "Booked (%)",
    "Median minutes to first conversation",
)


def figure_cells(figures: reports.LeadFigures) -> list[str]:
    return [
        str(figures.received),
        delay_text(figures.median_to_first_contact),
        share_text(figures.contacted_within_sla),
        share_text(figures.reached_test_drive),
        share_text(figures.booked),
        delay_text(figures.median_to_first_conversation),
    ]


def figure_csv_cells(figures: reports.LeadFigures) -> list[str]:
    delay = figures.median_to_first_contact
    talk = figures.median_to_first_conversation
    return [
        str(figures.received),
        _number(None if delay is None else delay.total_seconds() / 60),
        _number(figures.contacted_within_sla, 100),
        _number(figures.reached_test_drive, 100),
        _number(figures.booked, 100),
        _number(None if talk is None else talk.total_seconds() / 60),
    ]


# --- CSV -------------------------------------------------------------------------------------------


def csv_download(request: HttpRequest, *, kind: str, filename: str, lines: Iterator[str]) -> StreamingHttpResponse:
    # On file like every export, though these hold counts, not buyers.
    return recorded_csv_download(
        user=request.user, kind=kind, query=request.GET.urlencode(), filename=filename, lines=lines
    )


# --- the views -------------------------------------------------------------------------------------


def range_query(first: date, last: date) -> str:
    """The report's query string for a range, as its form sends it."""
    return f"first={first.isoformat()}&last={last.isoformat()}"


GROUPINGS: dict[str, tuple[str, tuple[str, ...], Callable[[reports.LeadReport], list[reports.LeadFigures]]]] = {
    "salesperson": ("By salesperson", ("Salesperson",), lambda report: report.by_salesperson),
    "campaign": ("By platform and campaign", ("Platform", "Campaign"), lambda report: report.by_campaign),
}


def lead_report_view(request: HttpRequest, *, site: AdminSite) -> HttpResponseBase:
    if not can_see_reports(request.user):
        raise PermissionDenied
    form = ReportRangeForm(request.GET)
    context: dict[str, Any] = {
        **site.each_context(request),
        "title": "Managers' report",
        "form": form,
        "sla_minutes": settings.LEAD_FIRST_CONTACT_MINUTES,
    }
    valid = form.is_valid()
    shown = (form.cleaned_data["first"], form.cleaned_data["last"]) if valid else None
    context["presets"] = [
        (
            preset.label,
            range_query(preset.first, preset.last),
            (preset.first, preset.last) == shown,
        )
        for preset in snapshots.preset_ranges(timezone.localdate())
    ]
    if not valid:
        return TemplateResponse(request, "admin/leads/lead_report.html", context, status=400)
    first, last = form.cleaned_data["first"], form.cleaned_data["last"]
    report = snapshots.lead_report(first=first, last=last)
    total = report.total
    export = request.GET.get("export", "")
    if export in GROUPINGS:
        _title, columns, table = GROUPINGS[export]
        rows = [[*figures.group, *figure_csv_cells(figures)] for figures in table(report)]
        rows.append([total.group[0], *[""] * (len(columns) - 1), *figure_csv_cells(total)])
        return csv_download(
            request,
            kind="lead report",
            filename=f"lead-report-{export}-{first:%Y%m%d}-{last:%Y%m%d}.csv",
            lines=excel_csv_lines([*columns, *CSV_FIGURE_TITLES], rows),
        )
    context.update(
        # The boxes show the dates the report covers, also when they were left empty (the last 30 days).
        form=ReportRangeForm({"first": first.isoformat(), "last": last.isoformat()}),
        first=first,
        last=last,
        # A long range's figures come from a snapshot: the page says how old.
        snapshot_at=ist_datetime(report.worked_out_at) if report.kept else None,
        live_days=snapshots.LIVE_DAYS,
        kept_minutes=round(snapshots.KEPT.total_seconds() / 60),
        figure_titles=FIGURE_TITLES,
        total=figure_cells(total),
        total_cells=list(zip(FIGURE_TITLES, figure_cells(total), strict=True)),
        tables=[
            {
                "key": key,
                "title": title,
                "columns": columns,
                # Each cell with its column's title: at phone widths a row reads as a card of labelled figures.
                "rows": [
                    (
                        list(zip(columns, figures.group, strict=True)),
                        list(zip(FIGURE_TITLES, figure_cells(figures), strict=True)),
                    )
                    for figures in table(report)
                ],
                "query": f"{range_query(first, last)}&export={key}",
            }
            for key, (title, columns, table) in GROUPINGS.items()
        ],
    )
    return TemplateResponse(request, "admin/leads/lead_report.html", context)


RECONCILIATION_TITLES = ("Platform", "Leads", "Duplicates", "Invalid phones", "Test leads")


def partner_reconciliation_view(request: HttpRequest, *, site: AdminSite) -> HttpResponseBase:
    if not can_see_reports(request.user):
        raise PermissionDenied
    form = MonthForm(request.GET)
    context: dict[str, Any] = {**site.each_context(request), "title": "Partner reconciliation", "form": form}
    if not form.is_valid():
        return TemplateResponse(request, "admin/leads/partner_reconciliation.html", context, status=400)
    month: date = form.cleaned_data["month"]
    rows = [
        [row.platform, str(row.leads), str(row.duplicates), str(row.invalid_phones), str(row.test_leads)]
        for row in reports.partner_reconciliation(month=month)
    ]
    labelled = [list(zip(RECONCILIATION_TITLES, row, strict=True)) for row in rows]
    if request.GET.get("export") == "csv":
        return csv_download(
            request,
            kind="reconciliation",
            filename=f"partner-reconciliation-{month:%Y-%m}.csv",
            lines=excel_csv_lines(list(RECONCILIATION_TITLES), rows),
        )
    context.update(
        form=MonthForm({"month": f"{month:%Y-%m}"}),  # the box shows the month covered, also when left empty
        month=month,
        titles=RECONCILIATION_TITLES,
        rows=labelled,
        query=f"month={month:%Y-%m}&export=csv",
    )
    return TemplateResponse(request, "admin/leads/partner_reconciliation.html", context)


def report_urls(site: AdminSite) -> list[URLPattern]:
    return [
        path(
            "reports/leads/",
            site.admin_view(lambda request: lead_report_view(request, site=site)),
            name="lead_report",
        ),
        path(
            "reports/partners/",
            site.admin_view(lambda request: partner_reconciliation_view(request, site=site)),
            name="partner_reconciliation",
        ),
    ]
