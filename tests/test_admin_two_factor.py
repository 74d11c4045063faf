"""Two-factor sign-in for superusers: enrol on the admin's page, then every sign-in needs the app's code."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-admin-password"


@pytest.fixture
def boss(db):
    return User.objects.create_superuser("boss", "boss@raamgroup.in", PASSWORD)


def code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """What the authenticator app shows now (or that many 30-second steps later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def sign_in(client: Client, *, otp_token: str = "") -> object:
    return client.post("/admin/login/", {"username": "boss", "password": PASSWORD, "otp_token": otp_token})


@pytest.fixture
def enrolled(boss):
    """A superuser who has already enrolled, signed out again."""
    return TOTPDevice.objects.create(user=boss, name="Authenticator app", confirmed=True)


def test_a_superuser_enrols_an_authenticator_app_and_keeps_working(boss):
    client = Client()
    assert sign_in(client).status_code == 302
    page = client.get("/admin/two-factor/")
    setup_key = re.search(r'id="otp-setup-key">([A-Z2-7]+)<', page.content.decode())[1]
    device = TOTPDevice.objects.get(user=boss, confirmed=False)

    response = client.post("/admin/two-factor/", {"otp_token": code(device)})

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert setup_key in device.config_url
    assert client.get("/admin/").status_code == 200  # this session proved the code


def test_a_wrong_code_does_not_enrol(boss):
    client = Client()
    sign_in(client)
    client.get("/admin/two-factor/")
    device = TOTPDevice.objects.get(user=boss)

    response = client.post("/admin/two-factor/", {"otp_token": f"{(int(code(device)) + 1) % 1_000_000:06d}"})

    assert response.status_code == 200
    assert "That authenticator code is not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(confirmed=True).exists()


def test_once_enrolled_a_password_alone_does_not_sign_in(enrolled):
    client = Client()

    response = sign_in(client)

    assert response.status_code == 200
    assert "if you set up two-factor sign-in, the current code" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_once_enrolled_a_wrong_code_does_not_sign_in(enrolled):
    client = Client()

    response = sign_in(client, otp_token="000000" if code(enrolled) != "000000" else "111111")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_once_enrolled_the_password_and_the_code_sign_in(enrolled):
    client = Client()

    response = sign_in(client, otp_token=code(enrolled))

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/leads/lead/").status_code == 200


def test_a_session_without_the_code_is_sent_to_sign_in_again_once_a_device_exists(boss, enrolled):
    client = Client()
    client.force_login(boss)  # e.g. signed in before the device was enrolled

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_a_device_sign_in_with_a_password(db):
    User.objects.create_user("sales1", password=PASSWORD, is_staff=True)
    client = Client()

    response = client.post("/admin/login/", {"username": "sales1", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_only_superusers_see_the_enrolment_page(db):
    sales = User.objects.create_user("sales1", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(sales)

    response = client.get("/admin/two-factor/")

    assert response.status_code == 403
    assert not TOTPDevice.objects.exists()


def test_an_enrolled_superuser_is_told_how_to_reset(boss, enrolled):
    client = Client()
    sign_in(client, otp_token=code(enrolled))

    response = client.get("/admin/two-factor/")

    assert "manage.py reset_otp boss" in response.content.decode()
    assert TOTPDevice.objects.count() == 1


def test_a_right_password_without_its_code_reads_exactly_like_a_wrong_password(enrolled):
    without_code = sign_in(Client())
    wrong_password = Client().post("/admin/login/", {"username": "boss", "password": "not-it"})

    errors = [r.content.decode().split('class="errornote"')[1].split("</p>")[0] for r in (without_code, wrong_password)]
    assert errors[0] == errors[1]
