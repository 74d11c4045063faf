"""The sales team's lead browser and the superusers' ops screens.

Everything shown here came from strangers on the internet: every value is escaped, and links
built from partner data go through format_html, with lead URLs linked only when http(s).
"""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_FACETS_VAR, IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from leads.admin import query_budget, selectors
from leads.admin.export import csv_rows
from leads.admin.filters import (
    CampaignFilter,
    CarModelFilter,
    FollowUpFilter,
    MyOpenLeadsFilter,
    OverdueFilter,
    ReceivedFilter,
    TestDriveFilter,
    TestLeadFilter,
)
from leads.admin.live import live_view
from leads.admin.paginator import EstimatedCountPaginator
from leads.admin.timeline import lead_follow_up_save, note_add, other_open_leads_move, timeline_html
from leads.admin.work import AssigneeChoiceField, LeadForm, WalkInForm, tel_url, whatsapp_url
from leads.common.business_time import business_minutes_between, friendly_age
from leads.common.days import ist_datetime
from leads.common.names import latin_name
from leads.intake.walk_in import walk_in_lead_add
from leads.models import CallAttempt, Lead, LeadQuerySet
from leads.ops.privacy import recorded_csv_download
from leads.sales import sla
from leads.sales.assignment import CLOSED_STATUSES
from leads.sales.permissions import is_manager, may_export, may_work_on, takes_by_working
from leads.sales.repeat_buyers import repeat_buyer_ids

PARTNER_FIELDS = (
    "public_id",
    "platform",
    "received",
    "name",
    "phone_number",
    "phone_e164",
    "phone_valid",
    "car_model",
    "campaign",
    "lead_url_link",
    "payload_pretty",
)


class TextSafeChangeList(query_budget.BudgetChangeList):
    """A list whose hand-edited query string holding a NUL (%00), which PostgreSQL's text cannot hold, gets
    the admin's "?e=1" like any other bad lookup, instead of a database error."""

    def get_filters_params(self, params: Any = None) -> Any:
        lookup_params = super().get_filters_params(params)
        values = [self.query, *(value for values in lookup_params.values() for value in values)]
        if any("\x00" in value for value in values):
            raise IncorrectLookupParameters("A query string value holds a NUL character.")
        return lookup_params


class LeadChangeList(TextSafeChangeList):
    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Lead]:
        queryset = super().get_queryset(request, exclude_parameters)
        # The bare list is a salesperson's own open leads (LeadAdmin.changelist_view), so "Clear all filters"
        # and the search's "Show all" must ask for every lead rather than come back to the bare list.
        show_all = QueryDict(mutable=True)
        if self.is_popup:
            show_all[IS_POPUP_VAR] = "1"
        if self.add_facets:
            show_all[IS_FACETS_VAR] = ""
        if MyOpenLeadsFilter.is_default_for(request):
            every_lead = {MyOpenLeadsFilter.parameter_name: MyOpenLeadsFilter.ALL}
            show_all.update(every_lead)
            cleared = QueryDict(self.clear_all_filters_qs.removeprefix("?"), mutable=True)
            cleared.update(every_lead)
            self.clear_all_filters_qs = f"?{cleared.urlencode()}"
        self.show_all_qs = f"?{show_all.urlencode()}"
        # A search looks through every lead, keeping the other filters: a salesperson on "My open leads"
        # searches for the buyer calling back, whoever has the lead. "My open leads" then narrows it again.
        self.search_params = dict(self.params)
        if MyOpenLeadsFilter.parameter_name in self.search_params:
            self.search_params[MyOpenLeadsFilter.parameter_name] = MyOpenLeadsFilter.ALL
            self.search_params.pop(FollowUpFilter.parameter_name, None)  # nor only today's calls
        return queryset

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        query_budget.bulk_read_count(request, rows=len(self.result_list))
        # One grouped query for the whole page instead of a count per row.
        counts = selectors.same_phone_counts(lead.phone_digits for lead in self.result_list)
        # Age and "Overdue" for this page only: one indexed query with the overdue rule, one calendar walk.
        now = timezone.now()
        page = [lead.pk for lead in self.result_list]
        overdue = set(Lead.objects.overdue(now=now).filter(pk__in=page).values_list("pk", flat=True))
        repeat = repeat_buyer_ids(self.result_list)
        for lead in self.result_list:
            lead.same_phone_others = max(counts.get(lead.phone_digits, 1) - 1, 0)
            lead.is_overdue = lead.pk in overdue
            lead.is_repeat_buyer = lead.pk in repeat
            lead.business_age = (
                None if lead.status in CLOSED_STATUSES else business_minutes_between(lead.received_at, now)
            )


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = [
        "received",
        "age",
        "platform",
        "name",
        "phone_link",
        "car_model",
        "campaign",
        "status",
        "assignee",
        "next_follow_up",
        "same_phone",
    ]
    list_display_links = ["name"]
    list_filter = [
        MyOpenLeadsFilter,
        FollowUpFilter,
        OverdueFilter,
        TestDriveFilter,
        "platform",
        "status",
        "assignee",
        CarModelFilter,
        CampaignFilter,
        ReceivedFilter,
        TestLeadFilter,
    ]
    search_fields = ["name", "car_model", "campaign"]
    search_help_text = (
        "Name (in Latin or Devanagari letters), car model or campaign; or any part of a phone number, in any "
        "format. Searches every lead."
    )
    list_select_related = ["assignee"]
    list_per_page = 50
    show_full_result_count = False
    # "Show counts" would COUNT every filter choice across the whole table on each page load.
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    actions = ["export_selected"]
    form = LeadForm
    readonly_fields = [
        *PARTNER_FIELDS,
        "other_leads",
        "deliveries",
        "first_contacted",
        "first_connected",
        "wrong_number_flag",
        "timeline",
    ]
    # The actions first: on a phone, the outcome, the next follow-up, the note and Save fit the first screen.
    fieldsets = [
        (
            "Work this lead",
            {"fields": ["call_outcome", "next_follow_up_at", "new_note", "status", "lost_reason", "follow_up_seen"]},
        ),
        ("Hand over", {"fields": ["assignee", "move_other_leads"]}),
        ("Timeline", {"fields": ["timeline"]}),
        (
            "Dealership",
            {
                "fields": [
                    "test_drive_at",
                    "trade_in",
                    "finance_interest",
                    "first_contacted",
                    "first_connected",
                    "wrong_number_flag",
                ]
            },
        ),
        ("This buyer's enquiries", {"fields": ["other_leads"]}),
        ("From the partner", {"fields": list(PARTNER_FIELDS)}),
        ("Related", {"fields": ["deliveries"]}),
    ]
    add_fieldsets = [("Walk-in or phone-in buyer", {"fields": ["name", "phone_number", "car_model", "new_note"]})]

    # --- the list ---------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lead]:
        # The list never shows the raw payload; the lead page reads it with the rest of the row.
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match is not None and match.url_name == "leads_lead_changelist":
            return queryset.defer("payload")
        return queryset

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LeadChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Lead], search_term: str
    ) -> tuple[QuerySet[Lead], bool]:
        digits = selectors.phone_search_digits(search_term)
        if digits is not None:
            return queryset.filter(phone_digits__contains=digits), False
        found, duplicates = super().get_search_results(request, queryset, search_term)
        # Either script finds the other: both sides spelled in plain Latin letters (leads.common.names).
        latin = latin_name(search_term.strip())
        if latin:
            found = found | queryset.filter(name_latin__contains=latin)
        return found, duplicates

    @admin.display(description="received", ordering="received_at")
    def received(self, lead: Lead) -> str:
        return ist_datetime(lead.received_at)

    @admin.display(description="next follow-up", ordering="next_follow_up_at")
    def next_follow_up(self, lead: Lead) -> str:
        flags = []
        if lead.wrong_number:
            flags.append(format_html(' <span class="flag-badge">{}</span>', "Wrong number"))
        if lead.test_drive_at:
            flags.append(
                format_html(' <span class="drive-badge">Test drive {}</span>', ist_datetime(lead.test_drive_at))
            )
        when = ist_datetime(lead.next_follow_up_at) if lead.next_follow_up_at else "-"
        return format_html("{}{}", when, format_html_join("", "{}", ((flag,) for flag in flags)))

    @admin.display(description="first contact (first attempt)")
    def first_contacted(self, lead: Lead) -> str:
        return ist_datetime(lead.first_contacted_at)

    @admin.display(description="first conversation")
    def first_connected(self, lead: Lead) -> str:
        return ist_datetime(lead.first_connected_at)

    @admin.display(description="wrong number")
    def wrong_number_flag(self, lead: Lead) -> str:
        return "Yes: a call found this number is not the buyer's" if lead.wrong_number else "No"

    @admin.display(description="phone", ordering="phone_digits")
    def phone_link(self, lead: Lead) -> str:
        if not lead.phone_e164:
            return format_html('<span title="not a valid phone number">{}</span>', lead.phone_number)
        # The number calls (each tap logged as an attempt), and WhatsApp sits beside it.
        return contact_buttons(lead)

    @admin.display(description="age")
    def age(self, lead: Lead) -> str:
        minutes = getattr(lead, "business_age", None)
        repeat = getattr(lead, "is_repeat_buyer", False)
        repeat_badge = format_html(' <span class="repeat-badge">{}</span>', "Repeat buyer") if repeat else ""
        if minutes is None:
            return repeat_badge or "-"
        overdue = getattr(lead, "is_overdue", False)
        overdue_badge = format_html(' <span class="overdue-badge">{}</span>', "Overdue") if overdue else ""
        badge = format_html("{}{}", overdue_badge, repeat_badge)
        return format_html(
            '<span title="{} business minutes since it arrived">{}</span>{}', minutes, friendly_age(minutes), badge
        )

    @admin.display(description="same phone")
    def same_phone(self, lead: Lead) -> int:
        return getattr(lead, "same_phone_others", 0)

    # --- the lead page ----------------------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Lead | None = None) -> list[str]:
        if obj is None:
            return []  # the walk-in form
        fields = list(super().get_readonly_fields(request, obj))
        # Sales may take an unassigned lead; moving an assigned one is a manager's call. A test lead is nobody's.
        if obj is not None and (obj.is_test or (obj.assignee_id and not is_manager(request.user))):
            fields.append("assignee")
        return [*fields, "assignee_name"]

    def get_fieldsets(self, request: HttpRequest, obj: Lead | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        fieldsets = super().get_fieldsets(request, obj)
        if not is_manager(request.user):  # only a manager moves a buyer's leads
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "move_other_leads"]})
                for name, options in fieldsets
            ]
        assignee_shown_read_only = obj is not None and (
            "assignee" in self.get_readonly_fields(request, obj) or not self.has_change_permission(request, obj)
        )
        if not assignee_shown_read_only or request.user.has_perm("auth.view_user"):
            return fieldsets
        # Django links a read-only assignee to the user's admin page, a 403 for whoever may not see users.
        return [
            (name, {**options, "fields": ["assignee_name" if f == "assignee" else f for f in options["fields"]]})
            for name, options in fieldsets
        ]

    @admin.display(description="assignee")
    def assignee_name(self, lead: Lead) -> str:
        return lead.assignee.get_username() if lead.assignee else "-"

    def get_form(self, request: HttpRequest, obj: Lead | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = WalkInForm
            kwargs["fields"] = ["name", "phone_number", "car_model", "new_note"]
        form = super().get_form(request, obj, change, **kwargs)
        if isinstance(assignee := form.base_fields.get("assignee"), forms.ModelChoiceField):
            # A salesperson may take an unassigned lead, but only for themselves (save_model checks it again);
            # a manager hands leads only to people who can work them, seeing who is on duty and how busy.
            if is_manager(request.user):
                form.base_fields["assignee"] = AssigneeChoiceField(
                    queryset=selectors.assignable_users(current_id=obj.assignee_id if obj else None),
                    required=False,
                    label="Assignee",
                )
            else:
                assignee.queryset = get_user_model().objects.filter(pk=request.user.pk or 0)  # signed in: never 0
        if not is_manager(request.user):
            form.base_fields.pop("move_other_leads", None)
        return form

    def save_model(self, request: HttpRequest, obj: Lead, form: Any, change: bool) -> None:
        if not change:
            self._walk_in_save(request, obj, form)
            return
        if (
            not is_manager(request.user)
            and "assignee" in form.changed_data
            and obj.assignee_id not in (None, request.user.pk)
        ):
            raise PermissionDenied
        if form.changed_data and takes_by_working(request.user, obj):
            obj.assignee = cast(User, request.user)  # signed in: admin_view lets no one else here
        # Status, assignee and follow-up changes go on the lead's timeline with who made them. The form checked,
        # under the row's lock, that nobody changed them since the page was opened.
        previous_assignee = form.initial.get("assignee")
        lead_follow_up_save(lead=obj, actor=request.user)
        note_add(lead=obj, author=request.user, text=form.cleaned_data.get("new_note", ""))
        if outcome := form.cleaned_data.get("call_outcome"):
            sla.lead_called(lead=obj, actor=request.user, outcome=outcome)
        if form.cleaned_data.get("move_other_leads") and obj.assignee_id != previous_assignee:
            moved = other_open_leads_move(lead=obj, actor=request.user, at=timezone.now())
            if moved:
                self.message_user(request, f"{moved} more open lead(s) of this buyer handed over too.", messages.INFO)

    def _walk_in_save(self, request: HttpRequest, obj: Lead, form: Any) -> None:
        """A walk-in goes the webhook's way (dedupe, assignment, timeline, alert); the admin then opens it."""
        result = walk_in_lead_add(
            name=form.cleaned_data["name"],
            phone_number=form.cleaned_data["phone_number"],
            car_model=form.cleaned_data.get("car_model", ""),
            actor=request.user,
            client_ip=request.META.get("REMOTE_ADDR"),
        )
        note_add(lead=result.lead, author=request.user, text=form.cleaned_data.get("new_note", ""))
        obj.pk = result.lead.pk
        if result.duplicate:
            self.message_user(request, "This buyer was added moments ago: here is that lead.", messages.WARNING)

    def response_add(self, request: HttpRequest, obj: Lead, post_url_continue: str | None = None) -> HttpResponse:
        # Straight to the buyer's page: the call, the outcome and the follow-up are the next steps.
        self.message_user(request, f"Walk-in buyer {obj.name} added.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[obj.pk]))

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None  # the lead's own timeline records who added it

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    @admin.display(description="timeline")
    def timeline(self, lead: Lead) -> str:
        return timeline_html(lead)

    @admin.display(description="lead URL")
    def lead_url_link(self, lead: Lead) -> str:
        if urlsplit(lead.lead_url).scheme.lower() in ("http", "https"):
            return format_html(
                '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', lead.lead_url, lead.lead_url
            )
        return lead.lead_url or "-"

    @admin.display(description="payload as sent")
    def payload_pretty(self, lead: Lead) -> str:
        return format_html("<pre>{}</pre>", json.dumps(lead.payload, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description="other enquiries from this phone")
    def other_leads(self, lead: Lead) -> str:
        others = list(selectors.other_leads_with_phone(lead).select_related("assignee"))
        if not others:
            return "None"
        return format_html(
            '<ul class="buyer-leads">{}</ul>',
            format_html_join(
                "",
                '<li><a href="{}">{} · {} · {} · {}</a> · {} · {}</li>',
                (
                    (
                        reverse("admin:leads_lead_change", args=[other.pk]),
                        ist_datetime(other.received_at),
                        other.platform,
                        other.name,
                        other.car_model or "no model",
                        other.assignee.get_username() if other.assignee else "unassigned",
                        other.get_status_display(),
                    )
                    for other in others
                ),
            ),
        )

    @admin.display(description="deliveries that brought this lead")
    def deliveries(self, lead: Lead) -> str:
        rows = lead.deliveries.order_by("received_at")[:50]
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {}</li>",
                (
                    (
                        ist_datetime(d.received_at),
                        d.status_code,
                        d.get_outcome_display(),
                    )
                    for d in rows
                ),
            ),
        )

    # --- permissions ------------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Partners send most leads; staff add the buyers who walk in or phone (the walk-in form).
        return super().has_change_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Lead | None = None) -> bool:
        """Sales follow up their own leads and may take an unassigned one; a colleague's lead opens read-only
        for them (no saving, no "Called"), so nobody closes or claims a call on someone else's buyer. Those who
        may reassign leads (Sales managers) may change any."""
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or may_work_on(request.user, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Lead | None = None) -> bool:
        return request.user.is_superuser

    def has_export_permission(self, request: HttpRequest) -> bool:
        return may_export(request.user)

    # --- export -----------------------------------------------------------------------------

    @admin.action(description="Export selected leads as CSV", permissions=["export"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Lead]) -> StreamingHttpResponse:
        return _csv_response(queryset, "selected", request=request, query=_selection_query(request))

    def get_urls(self) -> list[URLPattern]:
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="leads_lead_export"),
            path("live/", self.admin_site.admin_view(live_view), name="leads_lead_live"),
            path("<int:object_id>/called/", self.admin_site.admin_view(self.called_view), name="leads_lead_called"),
            path(
                "<int:object_id>/tap/<str:channel>/",
                self.admin_site.admin_view(self.tap_view),
                name="leads_lead_tap",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """The whole current filtered list (the list page passes its query string)."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        the_list = reverse("admin:leads_lead_changelist")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:  # a hand-edited query string: what the list page does with it
            return HttpResponseRedirect(f"{the_list}?{ERROR_FLAG}=1")
        if query_budget.ignored_lookups(changelist) or any(
            isinstance(spec, ReceivedFilter) and spec.problems for spec in changelist.filter_specs
        ):
            # A date the filter had to ignore: the list says which and why, where an export would not.
            return HttpResponseRedirect(f"{the_list}?{request.GET.urlencode()}")
        leads = changelist.get_queryset(request)
        return _csv_response(leads, "filtered", request=request, query=request.GET.urlencode())

    @method_decorator(require_POST)
    def called_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The lead page's "Called" button: the first click is the lead's first contact."""
        lead = self._lead_to_call(request, object_id)
        first = sla.lead_called(lead=lead, actor=request.user)
        self.message_user(request, "First contact recorded." if first else "Call recorded.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))

    @method_decorator(require_POST)
    def tap_view(self, request: HttpRequest, object_id: int, channel: str) -> HttpResponse:
        """A tap on Call or WhatsApp, sent by the page as the link opens (a beacon): logged as an attempt."""
        if channel not in CallAttempt.Channel.values:
            raise Http404
        lead = self._lead_to_call(request, object_id)
        sla.lead_called(lead=lead, actor=request.user, channel=channel)
        return HttpResponse(status=204)

    def _lead_to_call(self, request: HttpRequest, object_id: int) -> Lead:
        """The lead a Call, WhatsApp or "Called" tap is about, taken by the salesperson who works it unassigned."""
        lead: Lead | None = self.get_object(request, str(object_id))
        if lead is None:
            raise Http404
        if not self.has_change_permission(request, lead):
            raise PermissionDenied
        if takes_by_working(request.user, lead):
            lead.assignee = cast(User, request.user)
            lead_follow_up_save(lead=lead, actor=request.user)
        return lead

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # A save that may no longer apply (the lead was handed to a colleague since the page opened) keeps the
        # typed note on the lead, with its author, and says what happened: never a bare 403.
        if request.method == "POST" and object_id is not None:
            lead = self.get_object(request, object_id)
            if (
                lead is not None
                and not self.has_change_permission(request, lead)
                and self.has_view_permission(request, lead)
            ):
                return self._save_that_cannot_apply(request, lead)
        # No "Save and add another": the walk-in form is not the next step after working a lead.
        context = {**(extra_context or {}), "whatsapp_url": "", "tel_url": "", "show_save_and_add_another": False}
        if object_id is not None and (lead := self.get_object(request, object_id)) is not None:
            context.update(whatsapp_url=whatsapp_url(lead), tel_url=tel_url(lead))
        return super().changeform_view(request, object_id, form_url, context)

    def _save_that_cannot_apply(self, request: HttpRequest, lead: Lead) -> HttpResponse:
        note = note_add(lead=lead, author=request.user, text=request.POST.get("new_note", ""))
        holder = lead.assignee.get_username() if lead.assignee else "someone else"
        kept = " Your note was kept on the lead's timeline, under your name." if note else ""
        self.message_user(
            request,
            f"This lead was handed to {holder} after you opened it, so your other changes (status, follow-up, call "
            f"outcome) were not saved: tell {holder} or your manager.{kept}",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A salesperson opening the bare list lands on their own open leads; "All leads" is one click away.
        if request.method == "GET" and not request.GET and MyOpenLeadsFilter.is_default_for(request):
            default = request.GET.copy()
            default[MyOpenLeadsFilter.parameter_name] = MyOpenLeadsFilter.MINE
            default[FollowUpFilter.parameter_name] = FollowUpFilter.TO_CALL  # their day: who to call now
            request.GET = default  # type: ignore[assignment]
        context = {**(extra_context or {}), "can_export": self.has_export_permission(request)}
        return super().changelist_view(request, context)


def contact_buttons(lead: Lead) -> str:
    """The Call and WhatsApp buttons; each tap is logged (data-tap: the page's script sends a beacon there)."""
    links = []
    tap = reverse("admin:leads_lead_tap", args=[lead.pk, "phone"])
    if url := tel_url(lead):
        links.append(
            format_html(
                '<a class="contact-button call-button" href="{}" data-tap="{}" aria-label="Call {}">{}</a>',
                url,
                tap,
                lead.phone_e164,
                lead.phone_e164,
            )
        )
    if url := whatsapp_url(lead):
        tap = reverse("admin:leads_lead_tap", args=[lead.pk, "whatsapp"])
        links.append(
            format_html(
                '<a class="contact-button whatsapp-button" href="{}" target="_blank" rel="noopener" data-tap="{}">'
                "WhatsApp</a>",
                url,
                tap,
            )
        )
    return format_html_join(" ", "{}", ((link,) for link in links)) if links else "-"


def _csv_response(queryset: QuerySet[Lead], kind: str, *, request: HttpRequest, query: str) -> StreamingHttpResponse:
    # Test leads are never exported, whatever was selected or filtered.
    leads = cast(LeadQuerySet, queryset).real()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return recorded_csv_download(
        user=request.user, kind=kind, query=query, filename=f"leads-{kind}-{stamp}.csv", lines=csv_rows(leads)
    )


def _selection_query(request: HttpRequest) -> str:
    """The list's filters and the rows ticked (or "all matching"), as a query string for the export record."""
    query = request.GET.copy()
    if request.POST.get("select_across") == "1":
        query["select_across"] = "1"
    else:
        query.setlist("_selected_action", request.POST.getlist("_selected_action"))
    return query.urlencode()
