"""The on-duty switch in the admin: Sales managers flip anyone's, a salesperson only their own."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from leads.models import SalesProfile
from leads.sales.permissions import SALES_GROUP, is_manager, is_salesperson


@admin.register(SalesProfile)
class SalesProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "on_duty"]
    list_editable = ["on_duty"]
    list_filter = ["on_duty"]
    list_select_related = ["user"]
    fields = ["user", "on_duty"]
    readonly_fields = ["user"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        form = super().get_changelist_form(request, **kwargs)

        class LabelledSwitch(form):  # type: ignore[valid-type, misc]
            """Each row's checkbox says whose switch it is, for a screen reader and a voice command alike."""

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.fields["on_duty"].widget.attrs["aria-label"] = f"{self.instance.user} is on duty"

        return LabelledSwitch

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A Sales user without a profile counts as on duty (leads.sales.assignment); give each one a row to switch.
        missing = User.objects.filter(groups__name=SALES_GROUP, sales_profile__isnull=True)
        SalesProfile.objects.bulk_create([SalesProfile(user=user) for user in missing], ignore_conflicts=True)
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SalesProfile]:
        profiles = super().get_queryset(request)
        return profiles if is_manager(request.user) else profiles.filter(user_id=request.user.pk)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_manager(request.user) or is_salesperson(request.user)

    def has_view_permission(self, request: HttpRequest, obj: SalesProfile | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: SalesProfile | None = None) -> bool:
        if is_manager(request.user):
            return True
        return is_salesperson(request.user) and (obj is None or obj.user_id == request.user.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SalesProfile | None = None) -> bool:
        return False
