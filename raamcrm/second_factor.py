"""A TOTP second factor for the admin (django-otp): required once enrolled, and for the roles ``REQUIRE_2FA_FOR`` names.

Superusers, and everyone in a role an app adds to the site's ``second_factor_roles`` (leads adds "managers", who
may export leads), enrol themselves on the admin's "Two-factor sign-in" page; from then on their sign-in needs
the authenticator app's code as well as the password. ``manage.py reset_otp USERNAME`` removes a lost device.

A secret is shown once, to its owner, while they enrol. The device admin replaces django-otp's, which shows the
key, a QR code of it and a filter on it to anyone who may view devices: one superuser could read another's.
"""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import django_otp  # type: ignore[import-untyped]
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice  # type: ignore[import-untyped]

OTP_INVALID = "That authenticator code is not right, or has been used already. Wait for the next one."
# One answer for every failed sign-in, so a guesser cannot tell a right password by the error asking for a code.
SIGN_IN_FAILED = (
    "Enter a correct username and password for a staff account and, if you set up two-factor sign-in, the "
    "current code from your authenticator app. All three are case-sensitive."
)


def confirmed_device(user: AbstractBaseUser | AnonymousUser | None) -> Any:
    """The user's enrolled TOTP device, or None."""
    if user is None or not user.is_authenticated:
        return None
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def second_factor_satisfied(request: HttpRequest) -> bool:
    """Whether this session may use the admin as far as the second factor goes: users who have not
    enrolled need none; users who have must have signed in with it (django-otp's middleware says)."""
    user = request.user
    if getattr(user, "otp_device", None) is not None:
        return True
    return not django_otp.user_has_device(user, confirmed=True)


class AdminSignInForm(AdminAuthenticationForm):
    """The admin's sign-in form, asking for an authenticator code from users who have enrolled one."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=16,
        help_text="Only if you have set up two-factor sign-in.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    error_messages = {**AdminAuthenticationForm.error_messages, "invalid_login": SIGN_IN_FAILED}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # username and password first; raises invalid_login when they do not match
        user = self.get_user()
        device = confirmed_device(user)
        if device is not None:
            token = (cleaned.get("otp_token") or "").strip().replace(" ", "")
            verified = django_otp.verify_token(user, device.persistent_id, token) if token else None
            if verified is None:
                raise ValidationError(SIGN_IN_FAILED, code="invalid_login")
            # django-otp marks the session verified when Django signs in a user carrying this.
            user.otp_device = verified  # type: ignore[attr-defined]
        return cleaned


class EnrolForm(forms.Form):
    otp_token = forms.CharField(
        label="Code from the app",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def two_factor_view(request: HttpRequest, *, context: dict[str, Any], may_enrol: bool) -> HttpResponse:
    """Shows a user's two-factor state and enrols an authenticator app (type the key, or open the link)."""
    if not may_enrol:
        raise PermissionDenied
    user = request.user
    enrolled = confirmed_device(user)
    if enrolled is not None:
        return TemplateResponse(
            request, "admin/two_factor.html", {**context, "title": "Two-factor sign-in", "enrolled": enrolled}
        )
    # One pending device per user, kept across page loads so the key typed into the app stays valid.
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["otp_token"].strip().replace(" ", "")
        if device.verify_token(token):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            django_otp.login(request, device)  # this session already proved it
            messages.success(request, "Two-factor sign-in is on: signing in now needs a code from the app.")
            return HttpResponseRedirect(reverse("admin:index"))
        form.add_error("otp_token", OTP_INVALID)
    return TemplateResponse(
        request,
        "admin/two_factor.html",
        {
            **context,
            "title": "Set up two-factor sign-in",
            "form": form,
            "setup_key": b32encode(device.bin_key).decode(),
            "config_url": device.config_url,
        },
    )


class DeviceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Who has enrolled which device, and nothing of its secret. Enrolment is the owner's own, on the two-factor
    page, so nobody adds or edits a device here; deleting one is what ``reset_otp`` does."""

    list_display = ["user", "name", "confirmed", "created_at", "last_used_at"]
    list_filter = ["confirmed"]
    search_fields = ["user__username"]
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Django's admin allows any lookup on a model's own fields from the query string, and
        # ?key__startswith=... would read a secret a character at a time: only the list's filter is allowed.
        return lookup.split("__")[0] == "confirmed"


def replace_device_admin(site: admin.AdminSite) -> None:
    """Registers ``DeviceAdmin`` for TOTP devices in place of django-otp's own."""
    if site.is_registered(TOTPDevice):
        site.unregister(TOTPDevice)
    site.register(TOTPDevice, DeviceAdmin)
