from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date

from leads.admin.selectors import distinct_values
from leads.common.days import EARLIEST_DAY, LATEST_DAY, day_start
from leads.models import Lead, LeadQuerySet
from leads.models.lead import follow_up_due_q
from leads.sales.assignment import CLOSED_STATUSES
from leads.sales.permissions import is_salesperson

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices  # a TypedDict only the stubs define


class DistinctValueFilter(admin.SimpleListFilter):
    """A filter over a free-text column's values, listed by an index walk rather than a scan."""

    field: str

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, value) for value in distinct_values(self.field)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class CarModelFilter(DistinctValueFilter):
    title = "car model"
    parameter_name = field = "car_model"


class CampaignFilter(DistinctValueFilter):
    title = "campaign"
    parameter_name = field = "campaign"


class ReceivedFilter(admin.SimpleListFilter):
    """Received date, by preset or by a from/to range (IST days, both ends included)."""

    title = "received"
    parameter_name = "received"
    template = "admin/leads/received_filter.html"
    PRESETS = {"today": (0, 1), "yesterday": (1, 1), "7d": (6, 7), "30d": (29, 30), "90d": (89, 90)}
    LABELS = {
        "today": "Today",
        "yesterday": "Yesterday",
        "7d": "Last 7 days",
        "30d": "Last 30 days",
        "90d": "Last 90 days",
    }

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.problems: list[str] = []
        self.range_from = self._bound(params.pop("received_from", None), "From")
        self.range_to = self._bound(params.pop("received_to", None), "To")
        if self.range_from and self.range_to and self.range_from > self.range_to:
            self.problems.append(
                f"“From” ({self.range_from.isoformat()}) is after “To” ({self.range_to.isoformat()}), so no lead "
                "can match; swap them or pick another range."
            )
        match = request.resolver_match
        if match is not None and match.url_name == "leads_lead_changelist":  # not on the CSV download
            for problem in self.problems:
                messages.warning(request, problem, fail_silently=True)
        # The range form re-sends every other current filter and search as hidden fields; not the page
        # number, as a new range starts on its first page.
        self.other_params = [
            (key, value)
            for key, values in request.GET.lists()
            if key not in (*self.expected_parameters(), PAGE_VAR)
            for value in values
        ]
        super().__init__(request, params, model, model_admin)

    def _bound(self, value: Any, label: str) -> date | None:
        """One end of the range, or None (with a line in ``problems``) when it is not a usable date."""
        raw = value[-1] if isinstance(value, list) else value
        if not raw:
            return None
        try:
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is None:
            self.problems.append(f"“{label}” date {raw[:20]!r} is not a date like 2025-01-31; it was ignored.")
            return None
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            self.problems.append(
                f"“{label}” date {day.isoformat()} is outside {EARLIEST_DAY.isoformat()} to "
                f"{LATEST_DAY.isoformat()}; no lead is that far out, so it was ignored."
            )
            return None
        return day

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_name, "received_from", "received_to"]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(self.LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        today = timezone.localdate()
        value = self.value()
        if value in self.PRESETS:
            back, length = self.PRESETS[value]
            first = today - timedelta(days=back)
            return queryset.filter(
                received_at__gte=day_start(first), received_at__lt=day_start(first + timedelta(days=length))
            )
        if self.range_from:
            queryset = queryset.filter(received_at__gte=day_start(self.range_from))
        if self.range_to:
            queryset = queryset.filter(received_at__lt=day_start(self.range_to + timedelta(days=1)))
        return queryset

    def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
        yield {
            "selected": self.value() is None and not (self.range_from or self.range_to),
            "query_string": changelist.get_query_string(remove=self.expected_parameters()),
            "display": "Any date",
        }
        for key, label in self.lookup_choices:
            yield {
                "selected": self.value() == key,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: key}, remove=["received_from", "received_to"]
                ),
                "display": label,
            }


class TestLeadFilter(admin.SimpleListFilter):
    """Leads sent with a partner's staging key are hidden unless asked for: they are not buyers."""

    title = "test leads"
    parameter_name = "test"

    ONLY = "only"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.ONLY, "Only test leads")]

    def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
        # Test leads are never assigned, so asking for them asks for every lead's, not "My open leads".
        every_lead = {MyOpenLeadsFilter.parameter_name: MyOpenLeadsFilter.ALL}
        for choice in super().choices(changelist):
            if choice["display"] == dict(self.lookup_choices)[self.ONLY]:
                choice["query_string"] = changelist.get_query_string({self.parameter_name: self.ONLY, **every_lead})
            yield choice

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        if self.value() == self.ONLY:
            return queryset.filter(is_test=True)
        return cast(LeadQuerySet, queryset).real()


class OverdueFilter(admin.SimpleListFilter):
    """Leads nobody contacted within LEAD_FIRST_CONTACT_MINUTES business minutes (``Lead.objects.overdue``)."""

    title = "first contact"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("overdue", "Overdue")]

    def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
        # "Overdue" is every overdue lead, not those matching the last search (which showed "0 leads").
        for choice in super().choices(changelist):
            if choice["display"] == "Overdue":
                choice["query_string"] = changelist.get_query_string(
                    {self.parameter_name: "overdue"}, remove=[SEARCH_VAR]
                )
            yield choice

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        if self.value() == "overdue":
            return cast(LeadQuerySet, queryset).overdue()
        return queryset


class MyOpenLeadsFilter(admin.SimpleListFilter):
    """The signed-in user's assigned, open leads: where a salesperson lands (LeadAdmin.changelist_view)."""

    title = "whose leads"
    parameter_name = "mine"
    MINE, ALL = "open", "all"

    @staticmethod
    def is_default_for(request: HttpRequest) -> bool:
        """A salesperson's default; managers and superusers start from every lead."""
        return is_salesperson(request.user)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(self.MINE, "My open leads"), (self.ALL, "All leads")]

    def choices(self, changelist: Any) -> Iterator[_ListFilterChoices]:
        # No "All" of the admin's own: without the parameter a salesperson gets their leads, so "All leads"
        # is an explicit choice that keeps the other filters.
        for key, label in self.lookup_choices:
            yield {
                "selected": self.value() == key or (key == self.ALL and self.value() is None),
                "query_string": changelist.get_query_string({self.parameter_name: key}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        if self.value() == self.MINE:
            return queryset.filter(assignee_id=request.user.pk).exclude(status__in=CLOSED_STATUSES)
        return queryset


class FollowUpFilter(admin.SimpleListFilter):
    """The salesperson's day: who to call now (their first list), and the follow-ups by when they fall (IST)."""

    title = "follow-up"
    parameter_name = "follow_up"
    TO_CALL, TODAY, OVERDUE, TOMORROW = "to_call", "today", "overdue", "tomorrow"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (self.TO_CALL, "To work today"),
            (self.TODAY, "Due today"),
            (self.OVERDUE, "Overdue follow-ups"),
            (self.TOMORROW, "Due tomorrow"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        leads = cast(LeadQuerySet, queryset)
        now = timezone.now()
        if self.value() == self.TO_CALL:
            # Everything but the leads put off to a later day: follow-ups due by tonight (late ones first in
            # mind), and leads with no follow-up set yet, the new ones among them.
            return leads.filter(Q(next_follow_up_at__isnull=True) | follow_up_due_q(now=now))
        if self.value() == self.TODAY:
            return leads.follow_ups_due_today(now=now)
        if self.value() == self.OVERDUE:
            return leads.follow_ups_overdue(now=now)
        if self.value() == self.TOMORROW:
            tomorrow = timezone.localdate(now) + timedelta(days=1)
            return leads.real().filter(
                next_follow_up_at__gte=day_start(tomorrow), next_follow_up_at__lt=day_start(tomorrow + timedelta(1))
            )
        return queryset


class TestDriveFilter(admin.SimpleListFilter):
    """Test drives booked for today (IST)."""

    title = "test drive"
    parameter_name = "test_drive"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("today", "Test drives today")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        if self.value() == "today":
            today = timezone.localdate()
            return queryset.filter(
                test_drive_at__gte=day_start(today), test_drive_at__lt=day_start(today + timedelta(days=1))
            )
        return queryset
