"""The on-duty switch in the admin: Sales managers flip anyone's, a salesperson only their own."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from leads.models import SalesProfile
from leads.sales.assignment import MANAGERS_GROUP, SALES_GROUP


def _in_group(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    return isinstance(user, User) and user.is_active and user.groups.filter(name=name).exists()


def _manages(request: HttpRequest) -> bool:
    return request.user.is_superuser or _in_group(request.user, MANAGERS_GROUP)


@admin.register(SalesProfile)
class SalesProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "on_duty"]
    list_editable = ["on_duty"]
    list_filter = ["on_duty"]
    list_select_related = ["user"]
    fields = ["user", "on_duty"]
    readonly_fields = ["user"]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A Sales user without a profile counts as on duty (leads.sales.assignment); give each one a row to switch.
        missing = User.objects.filter(groups__name=SALES_GROUP, sales_profile__isnull=True)
        SalesProfile.objects.bulk_create([SalesProfile(user=user) for user in missing], ignore_conflicts=True)
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SalesProfile]:
        profiles = super().get_queryset(request)
        return profiles if _manages(request) else profiles.filter(user_id=request.user.pk)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _manages(request) or _in_group(request.user, SALES_GROUP)

    def has_view_permission(self, request: HttpRequest, obj: SalesProfile | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: SalesProfile | None = None) -> bool:
        if _manages(request):
            return True
        return _in_group(request.user, SALES_GROUP) and (obj is None or obj.user_id == request.user.pk)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SalesProfile | None = None) -> bool:
        return False
