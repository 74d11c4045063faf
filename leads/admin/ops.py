"""The superusers' ops screens: the delivery ledger, API keys, field aliases, and the privacy records."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.cache import never_cache

from leads.admin.leads import TextSafeChangeList
from leads.admin.paginator import EstimatedCountPaginator
from leads.intake.aliases import AliasError, aliases_changed, field_alias_add, field_alias_check
from leads.intake.keys import MAX_GRACE_HOURS, api_key_revoke, api_key_rotate
from leads.intake.replay import delivery_replay, replayable_deliveries
from leads.models import REFUSED_STATUSES, ApiKey, Delivery, ErasureRecord, ExportRecord, FieldAlias
from leads.partners import PARTNERS, get_partner
from leads.sales.permissions import is_manager


class SuperuserOnly:
    """Ops screens: superusers see them, read-only; sales staff never do."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return TextSafeChangeList

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = [
        "received_at",
        "platform",
        "status_code",
        "outcome",
        "over_soft_limit",
        "key_prefix",
        "client_ip",
        "latency_ms",
        "repeats",
        "lead_link",
    ]
    list_filter = ["platform", "outcome", "status_code", "over_soft_limit", "is_replay"]
    search_fields = ["=request_id", "=partner_request_id", "=key_prefix", "=client_ip", "=partner_lead_id"]
    actions = ["replay"]
    list_select_related = ["lead"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = EstimatedCountPaginator
    fields = readonly_fields = (
        "received_at",
        "platform",
        "status_code",
        "outcome",
        "error",
        "over_soft_limit",
        "key_prefix",
        "client_ip",
        "latency_ms",
        "request_id",
        "partner_request_id",
        "is_replay",
        "partner_lead_id",
        "lead_link",
        "body_text",
        "body_truncated",
        "content_type",
        "content_encoding",
        "replayed_at",
        "repeats",
    )

    @admin.action(description="Replay refused deliveries through today's field aliases")
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        results = [
            delivery_replay(delivery)
            for delivery in replayable_deliveries(ids=list(queryset.values_list("pk", flat=True)))
        ]
        for result in results:
            level = messages.SUCCESS if result.kind in ("stored", "duplicate") else messages.WARNING
            self.message_user(request, result.describe(), level)
        stored = sum(result.kind == "stored" for result in results)
        self.message_user(
            request,
            f"Replayed {len(results)} of {queryset.count()} selected: {stored} stored as new leads. "
            f"Only refused deliveries ({', '.join(map(str, REFUSED_STATUSES))}) with their whole body kept can be "
            "replayed.",
        )

    @admin.display(description="lead")
    def lead_link(self, delivery: Delivery) -> str:
        if delivery.lead is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:leads_lead_change", args=[delivery.lead_id]), delivery.lead
        )

    @admin.display(description="body as sent")
    def body_text(self, delivery: Delivery) -> str:
        raw = bytes(delivery.body)
        text = raw.decode("utf-8", "replace")
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text) if raw else "-"


@admin.register(ApiKey)
class ApiKeyAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = fields = readonly_fields = (
        "prefix",
        "partner",
        "is_test",
        "label",
        "state",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ["partner", "is_test"]
    change_list_template = "admin/leads/apikey/change_list.html"

    @admin.display(description="state")
    def state(self, api_key: ApiKey) -> str:
        return api_key.state()

    @admin.display(description="")
    def revoke_link(self, api_key: ApiKey) -> str:
        if api_key.state() == "revoked":
            return "-"
        return format_html('<a href="{}">Revoke</a>', reverse("admin:leads_apikey_revoke", args=[api_key.pk]))

    def get_list_display(self, request: HttpRequest) -> Any:
        return [*self.list_display, "revoke_link"]

    # --- rotating and revoking (leads.intake.keys holds the logic, as for the commands) -------------------------

    def get_urls(self) -> list[URLPattern]:
        return [
            path("rotate/", self.admin_site.admin_view(self.rotate_view), name="leads_apikey_rotate"),
            path("<int:key_id>/revoke/", self.admin_site.admin_view(self.revoke_view), name="leads_apikey_revoke"),
            *super().get_urls(),
        ]

    def _page(self, request: HttpRequest, title: str, **context: Any) -> TemplateResponse:
        if not request.user.is_superuser:  # admin_view let in staff; keys are the superusers' alone
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/leads/apikey/key_action.html",
            {**self.admin_site.each_context(request), "title": title, **context},
        )

    @method_decorator(never_cache)  # the new key must not stay in a cache or the browser's history
    def rotate_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied
        form = RotateKeyForm(request.POST if request.method == "POST" else None)
        if not form.is_valid():
            return self._page(request, "Rotate a partner key", form=form)
        partner = get_partner(form.cleaned_data["partner"])
        assert partner is not None  # the form's choices come from the registry
        grace = form.cleaned_data["grace_hours"]
        when = "at once" if grace == 0 else f"in {grace} hour{'' if grace == 1 else 's'}"
        if request.POST.get("confirmed") != "yes":
            question = (
                f"Issue a new {partner.name} key? Its other production keys stop working {when}; "
                "the partner needs the new key before then."
            )
            return self._page(
                request,
                "Rotate a partner key",
                form=form,
                confirming=True,
                question=question,
                confirm_label="Yes, rotate",
            )
        issued, retired = api_key_rotate(
            partner=partner, grace=timedelta(hours=grace), label=form.cleaned_data["label"]
        )
        summary = f"Created {partner.name} key {issued.api_key.prefix}; {retired} older key(s) stop working {when}."
        self.log_addition(request, issued.api_key, summary)  # the admin's history names the prefix, never the key
        return self._page(request, "New key", secret=issued.secret, partner_name=partner.name, summary=summary)

    def revoke_view(self, request: HttpRequest, key_id: int) -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied
        api_key = ApiKey.objects.filter(pk=key_id).first()
        if api_key is None:
            raise Http404
        if request.method == "POST" and request.POST.get("confirmed") == "yes":
            api_key_revoke(prefix=api_key.prefix)
            self.log_change(request, api_key, f"Revoked key {api_key.prefix}.")
            self.message_user(
                request, f"Revoked {api_key.get_partner_display()} key {api_key.prefix}; it no longer works."
            )
            return HttpResponseRedirect(reverse("admin:leads_apikey_changelist"))
        question = (
            f"Revoke {api_key.get_partner_display()} key {api_key.prefix} ({api_key.label or 'no label'})? "
            "It stops working at once, and every lead the partner sends with it is refused."
        )
        return self._page(
            request,
            "Revoke a partner key",
            form=forms.Form(),
            confirming=True,
            question=question,
            confirm_label="Yes, revoke it",
        )


class RotateKeyForm(forms.Form):
    partner = forms.ChoiceField(choices=[(partner.slug, partner.name) for partner in PARTNERS])
    grace_hours = forms.IntegerField(
        label="Old keys keep working for (hours)",
        initial=24,
        min_value=0,
        max_value=MAX_GRACE_HOURS,
        help_text="Time for the partner to switch to the new key; 0 stops the old keys at once.",
    )
    label = forms.CharField(required=False, max_length=100, help_text="A note for admins about the new key.")


class FieldAliasForm(forms.ModelForm):
    class Meta:
        model = FieldAlias
        fields = ["partner", "field", "alias"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        partner = get_partner(cleaned.get("partner", ""))
        if partner and cleaned.get("field") and cleaned.get("alias"):
            try:
                field_alias_check(partner=partner, field=cleaned["field"], alias=cleaned["alias"].strip())
            except AliasError as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned


@admin.register(FieldAlias)
class FieldAliasAdmin(SuperuserOnly, admin.ModelAdmin):
    """Field names a partner sends that the guide does not list; see leads.intake.aliases."""

    list_display = ["partner", "field", "alias", "created_at", "created_by"]
    list_filter = ["partner", "field"]
    fields = ["partner", "field", "alias"]
    form = FieldAliasForm

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request)

    def save_model(self, request: HttpRequest, obj: FieldAlias, form: Any, change: bool) -> None:
        partner = get_partner(obj.partner)
        assert partner is not None  # the form's choices come from the registry
        added = field_alias_add(
            partner=partner, field=obj.field, alias=obj.alias, created_by=request.user.get_username()
        )
        obj.pk = added.pk  # the admin's history entry and redirect name the row that was saved

    def delete_model(self, request: HttpRequest, obj: FieldAlias) -> None:
        super().delete_model(request, obj)
        aliases_changed()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FieldAlias]) -> None:
        super().delete_queryset(request, queryset)
        aliases_changed()


@admin.register(ErasureRecord)
class ErasureRecordAdmin(SuperuserOnly, admin.ModelAdmin):
    """Buyers' erasure requests (``erase_buyer``): proof they were honoured; the phone shown only masked."""

    fields = readonly_fields = (
        "performed_at",
        "requested_by",
        "phone_masked",
        "leads_erased",
        "deliveries_erased",
        "log_entries_erased",
        "exports_erased",
    )
    list_display = list(fields)
    search_fields = ["requested_by"]


@admin.register(ExportRecord)
class ExportRecordAdmin(SuperuserOnly, admin.ModelAdmin):
    """Every CSV export of leads, and every hour's paging past LEAD_BULK_READ_AUDIT_ROWS ("paged"): who took
    buyers' data out, when, with which filter, and how many rows. Sales managers read it too."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_manager(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_manager(request.user)

    list_display = ["started_at", "username", "kind", "query", "row_count", "complete", "finished_at"]
    list_filter = ["kind", "complete"]
    search_fields = ["=username"]
    fields = readonly_fields = (
        "started_at",
        "username",
        "user",
        "kind",
        "query",
        "row_count",
        "complete",
        "finished_at",
    )
