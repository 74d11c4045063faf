from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from leads import ratelimits
from leads.api.client import client_ip

TOO_MANY_ATTEMPTS = "Too many sign-in attempts. Please wait a minute, then try again."


class RaamAdminSite(admin.AdminSite):
    site_header = "Raam Group CRM"
    site_title = "Raam CRM"
    index_title = "MG digital leads"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        context = dict(extra_context or {})
        if request.user.has_perm("leads.view_lead"):
            # Imported here: this module loads with the admin app, before models are ready.
            from leads.dashboard import leads_chart
            from leads.selectors import leads_per_day

            context["leads_chart"] = leads_chart(*leads_per_day(days=30))
        return super().index(request, context)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The admin's login, limited per client IP and per username against password guessing."""
        if request.method == "POST" and self._too_many_attempts(request):
            context = {**(extra_context or {}), "rate_limited": True, "rate_limit_message": TOO_MANY_ATTEMPTS}
            request.method = "GET"  # show the form again without checking the password
            response = super().login(request, context)
            response.status_code = 429
            return response
        return super().login(request, extra_context)

    def _too_many_attempts(self, request: HttpRequest) -> bool:
        # Both counters move on every attempt, so neither can be reset by switching the other.
        username = request.POST.get("username", "").strip().lower()[:150]
        by_ip = ratelimits.usage(
            request,
            group="admin-login-ip",
            value=client_ip(request) or "unknown",
            rate=settings.LOGIN_RATE_LIMIT_IP,
            increment=True,
        )
        by_user = ratelimits.usage(
            request, group="admin-login-user", value=username, rate=settings.LOGIN_RATE_LIMIT_USERNAME, increment=True
        )
        return any(usage is not None and usage.exceeded for usage in (by_ip, by_user))
