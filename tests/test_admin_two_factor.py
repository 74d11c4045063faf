"""Two-factor sign-in: superusers and managers enrol on the admin's page, then every sign-in needs the app's code;
REQUIRE_2FA_FOR makes it mandatory, and no secret is shown to anyone after enrolment."""

from __future__ import annotations

import re
import time
from base64 import b32encode
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("two_factor_required")]


@pytest.fixture
def two_factor_required(settings):
    settings.REQUIRE_2FA_FOR = ["superusers", "managers"]  # production's default (tests/settings.py turns it off)


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


def test_only_those_who_may_export_or_manage_keys_see_the_enrolment_page(db):
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


def test_a_manager_who_may_export_leads_enrols_too(manager_user):
    client = Client()
    client.force_login(manager_user)

    page = client.get("/admin/two-factor/")
    device = TOTPDevice.objects.get(user=manager_user, confirmed=False)
    response = client.post("/admin/two-factor/", {"otp_token": code(device)})

    assert page.status_code == 200
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_a_role_that_requires_a_second_factor_is_sent_to_enrol_before_any_admin_page(manager_user):
    client = Client()
    client.force_login(manager_user)

    response = client.get("/admin/leads/lead/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/two-factor/"
    assert client.get("/admin/two-factor/").status_code == 200


def test_without_the_requirement_a_manager_may_still_use_the_admin_unenrolled(manager_user, settings):
    settings.REQUIRE_2FA_FOR = ["superusers"]
    client = Client()
    client.force_login(manager_user)

    assert client.get("/admin/leads/lead/").status_code == 200


def test_a_totp_secret_is_not_readable_by_another_superuser(enrolled):
    other = User.objects.create_superuser("second-boss", "second@raamgroup.in", PASSWORD)
    their_own = TOTPDevice.objects.create(user=other, name="Authenticator app", confirmed=True)
    client = Client()
    client.force_login(other)
    session = client.session
    session["otp_device_id"] = their_own.persistent_id  # signed in with their own code
    session.save()
    pk = enrolled.pk
    secrets = (enrolled.key, enrolled.key.upper(), b32encode(enrolled.bin_key).decode(), quote(enrolled.config_url))

    pages = {
        url: client.get(url)
        for url in (
            "/admin/otp_totp/totpdevice/",
            f"/admin/otp_totp/totpdevice/{pk}/change/",
            f"/admin/otp_totp/totpdevice/{pk}/config/",
            f"/admin/otp_totp/totpdevice/{pk}/qrcode/",
            f"/admin/otp_totp/totpdevice/{pk}/history/",
            "/admin/otp_totp/totpdevice/add/",
        )
    }
    probe = client.get(f"/admin/otp_totp/totpdevice/?key__startswith={enrolled.key[:2]}")

    assert pages["/admin/otp_totp/totpdevice/"].status_code == 200
    assert "boss" in pages["/admin/otp_totp/totpdevice/"].content.decode()  # who enrolled is still listed
    for url, response in pages.items():
        assert response.status_code < 500, url
        body = b"".join(response) if response.streaming else response.content
        assert response.get("Content-Type", "").startswith("text/html"), url  # no QR code image
        for secret in secrets:
            assert secret.encode() not in body, url
    assert probe.status_code == 400  # the key cannot be filtered on, a character at a time


@pytest.mark.parametrize("bad_id", ["999999", "99999999999999999999", "not-a-number", "1%00"])
@pytest.mark.parametrize("page", ["change", "config", "qrcode", "history", "delete"])
def test_a_missing_device_id_is_never_a_500(boss, bad_id, page):
    client = Client(raise_request_exception=False)
    client.force_login(boss)
    session = client.session
    session["otp_device_id"] = TOTPDevice.objects.create(user=boss, name="app", confirmed=True).persistent_id
    session.save()

    response = client.get(f"/admin/otp_totp/totpdevice/{bad_id}/{page}/", follow=True)

    assert response.status_code < 500
