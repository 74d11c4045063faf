"""The superusers' ops screens: the delivery ledger, API keys, field aliases, and the privacy records."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from leads.admin.leads import TextSafeChangeList
from leads.admin.paginator import EstimatedCountPaginator
from leads.intake.aliases import AliasError, aliases_changed, field_alias_add, field_alias_check
from leads.intake.replay import delivery_replay, replayable_deliveries
from leads.models import REFUSED_STATUSES, ApiKey, Delivery, ErasureRecord, ExportRecord, FieldAlias
from leads.partners import get_partner
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

    @admin.display(description="state")
    def state(self, api_key: ApiKey) -> str:
        return api_key.state()


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
