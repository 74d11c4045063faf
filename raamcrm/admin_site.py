"""The admin site: a sign-in that resists guessing, a second factor for superusers, and room for apps' pages.

Failed sign-ins are counted per (normalised username, client IP), which locks a guesser out of that
account from that address, and per client IP, which stops one address trying many accounts. There is
deliberately no counter per username alone: it would let anyone lock a colleague out by typing wrong
passwords for them, and a correct password from an address that has not failed is always let in.
Guessing spread over many addresses is what TOTP (required once enrolled) and Django's password
validators are for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path

from raamcrm import limits
from raamcrm.client_ip import client_ip
from raamcrm.second_factor import AdminSignInForm, second_factor_satisfied, two_factor_view


def too_many_attempts(seconds_left: int) -> str:
    minutes = max(1, -(-seconds_left // 60))
    return f"Too many failed sign-ins. Please try again in {minutes} minute{'s' if minutes > 1 else ''}."


def normalised_username(raw: str) -> str:
    """The key failed sign-ins are counted under. Django's login form reads usernames as NFKC, so
    a fullwidth or mathematical 's' in 'sales1' signs in as 'sales1' and must count as it; case-folded too."""
    return unicodedata.normalize("NFKC", raw).casefold().strip()[:150]


class RaamAdminSite(admin.AdminSite):
    site_header = "Raam Group CRM"
    # The lead list is the screen people work in: on a 1366-pixel laptop, Django's navigation sidebar pushed
    # its status and assignee columns out of sight. The breadcrumbs and the home page lead everywhere it did.
    enable_nav_sidebar = False
    site_title = "Raam CRM"
    index_title = "MG digital leads"
    login_form = AdminSignInForm

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        # What apps add to the site without the site importing them (the project imports no app): the
        # dashboard on the home page, and pages of their own such as the managers' reports.
        self.index_context_providers: list[Callable[[HttpRequest], dict[str, Any]]] = []
        self.url_providers: list[Callable[[admin.AdminSite], list[URLPattern]]] = []

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        context = dict(extra_context or {})
        for provider in self.index_context_providers:
            context.update(provider(request))
        return super().index(request, context)

    def has_permission(self, request: HttpRequest) -> bool:
        # Someone who enrolled a second factor but signed in without it (an older session) signs in again.
        return super().has_permission(request) and second_factor_satisfied(request)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        return [
            path("two-factor/", self.admin_view(self.two_factor), name="two_factor"),
            *(url for provider in self.url_providers for url in provider(self)),
            *super().get_urls(),
        ]

    def two_factor(self, request: HttpRequest) -> HttpResponse:
        return two_factor_view(request, context=self.each_context(request))

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The admin's login, refusing (429) an address that has failed too often, checked before the password."""
        if request.method != "POST":
            return super().login(request, extra_context)
        counters = _failure_counters(request)
        for group, value, rate in counters:
            usage = limits.count_attempt(group=group, value=value, rate=rate)
            if usage is not None and usage.exceeded:
                message = too_many_attempts(usage.seconds_left)
                context = {**(extra_context or {}), "rate_limited": True, "rate_limit_message": message}
                request.method = "GET"  # show the form again without checking the password
                response = super().login(request, context)
                request.method = "POST"  # as it came, for the access log
                response.status_code = 429
                response["Retry-After"] = str(usage.seconds_left)
                return response
        response = super().login(request, extra_context)
        if response.status_code == 302:  # a successful sign-in redirects: it uses up nothing
            for group, value, rate in counters:
                limits.attempt_succeeded(group=group, value=value, rate=rate)
        return response


def _failure_counters(request: HttpRequest) -> list[tuple[str, str, str]]:
    ip = client_ip(request) or "unknown"
    username = normalised_username(request.POST.get("username", ""))
    return [
        ("admin-login-user-ip", f"{username}\n{ip}", settings.LOGIN_RATE_LIMIT_USERNAME),
        ("admin-login-ip", ip, settings.LOGIN_RATE_LIMIT_IP),
    ]
