"""The admin site: a sign-in that resists guessing, a second factor, and room for apps' pages.

Which counters judge a sign-in, and the device cookies that keep an account's own browsers signing in while it
is under attack, are ``raamcrm.sign_in_guard``'s.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

from raamcrm import sign_in_guard
from raamcrm.second_factor import AdminSignInForm, confirmed_device, second_factor_satisfied, two_factor_view


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
        # Roles whose members may enrol a second factor, and must when REQUIRE_2FA_FOR names them.
        self.second_factor_roles: dict[str, Callable[[Any], bool]] = {"superusers": lambda user: user.is_superuser}

    def may_enrol(self, user: Any) -> bool:
        return bool(user.is_active and user.is_staff and any(role(user) for role in self.second_factor_roles.values()))

    def must_enrol(self, request: HttpRequest) -> bool:
        """Whether this user's role requires a second factor they have not enrolled yet."""
        user = request.user
        required = (
            self.second_factor_roles[name] for name in settings.REQUIRE_2FA_FOR if name in self.second_factor_roles
        )
        return bool(user.is_active and any(role(user) for role in required) and confirmed_device(user) is None)

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Every admin page, except enrolment itself and signing out, first sends a user who must enrol there."""

        def enrolled_first(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            exempt = (reverse(f"{self.name}:two_factor"), reverse(f"{self.name}:logout"))
            if request.path not in exempt and self.must_enrol(request):
                messages.warning(request, "Your role needs two-factor sign-in: set it up to use the admin.")
                return HttpResponseRedirect(exempt[0])
            return view(request, *args, **kwargs)

        return super().admin_view(update_wrapper(enrolled_first, view), cacheable)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        return {**super().each_context(request), "may_enrol_second_factor": self.may_enrol(request.user)}

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
        return two_factor_view(request, context=self.each_context(request), may_enrol=self.may_enrol(request.user))

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The admin's login, refusing (429) a client that has failed too often, checked before the password."""
        if request.method != "POST":
            return super().login(request, extra_context)
        username = normalised_username(request.POST.get("username", ""))
        attempt = sign_in_guard.count_attempt(request, username)
        if attempt.refused_by is not None and attempt.refused_usage is not None:
            message = too_many_attempts(attempt.refused_usage.seconds_left)
            if attempt.refused_by.group == sign_in_guard.ACCOUNT_GROUP:
                message += " A browser you have signed in with before can still sign in."
            context = {**(extra_context or {}), "rate_limited": True, "rate_limit_message": message}
            request.method = "GET"  # show the form again without checking the password
            response = super().login(request, context)
            request.method = "POST"  # as it came, for the access log
            response.status_code = 429
            response["Retry-After"] = str(attempt.refused_usage.seconds_left)
            return response
        response = super().login(request, extra_context)
        if response.status_code == 302 and request.user.is_authenticated:  # signed in: it uses up nothing
            attempt.succeeded()
            sign_in_guard.remember_device(request, response, username, path=reverse(f"{self.name}:index"))
        return response
