"""The admin sign-in page resists password guessing, per client IP and per username."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return User.objects.create_user("asha", password="correct horse battery", is_staff=True)


def attempt(client, username, password="wrong", ip="198.51.100.20"):  # noqa: S107
    return client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/d", TRUSTED_PROXY_COUNT=0)
def test_too_many_attempts_on_one_username_is_429_with_a_clear_message(client, staff):
    for n in range(3):
        attempt(client, "asha", ip=f"198.51.100.{n}")

    response = attempt(client, "ASHA", password="correct horse battery", ip="198.51.100.99")

    assert response.status_code == 429
    assert "Too many sign-in attempts. Please wait a minute, then try again." in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_RATE_LIMIT_IP="3/d", TRUSTED_PROXY_COUNT=0)
def test_too_many_attempts_from_one_ip_is_429_whatever_the_username(client, staff):
    for name in ("a", "b", "c"):
        attempt(client, name)

    response = attempt(client, "asha", password="correct horse battery")

    assert response.status_code == 429


def test_a_normal_sign_in_works(client, staff):
    response = attempt(client, "asha", password="correct horse battery")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)
