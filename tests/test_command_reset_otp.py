"""reset_otp: an administrator removes a user's lost authenticator, and the password works alone again."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-admin-password"


def test_reset_removes_the_devices_and_a_password_signs_in_again():
    boss = User.objects.create_superuser("boss", "boss@raamgroup.in", PASSWORD)
    TOTPDevice.objects.create(user=boss, name="Authenticator app", confirmed=True)
    TOTPDevice.objects.create(user=boss, name="half-enrolled", confirmed=False)
    out = StringIO()

    call_command("reset_otp", "boss", stdout=out)

    assert out.getvalue().strip() == "Removed 2 two-factor device(s) from boss."
    assert not TOTPDevice.objects.exists()
    client = Client()
    assert client.post("/admin/login/", {"username": "boss", "password": PASSWORD}).status_code == 302


def test_reset_leaves_other_users_devices_alone():
    boss = User.objects.create_superuser("boss", "boss@raamgroup.in", PASSWORD)
    other = User.objects.create_superuser("other", "other@raamgroup.in", PASSWORD)
    TOTPDevice.objects.create(user=boss, confirmed=True)
    TOTPDevice.objects.create(user=other, confirmed=True)

    call_command("reset_otp", "boss", stdout=StringIO())

    assert list(TOTPDevice.objects.values_list("user__username", flat=True)) == ["other"]


def test_an_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        call_command("reset_otp", "nobody", stdout=StringIO())
