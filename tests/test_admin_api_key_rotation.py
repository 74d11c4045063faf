"""Superusers rotate or revoke a partner key from the admin's keys page: a confirmation first, CSRF-protected POSTs,
and a rotation's new key shown on that one page, never again and never logged."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client

from leads.intake.keys import api_key_authenticate, api_key_create
from leads.models import ApiKey
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db

ROTATE = "/admin/leads/apikey/rotate/"


@pytest.fixture
def boss_client():
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@raamgroup.in", "pw"))
    return client


def test_a_rotation_asks_first_then_shows_the_new_key_once(boss_client, caplog):
    old = api_key_create(partner=CARDEKHO, label="launch")
    form = {"partner": "cardekho", "grace_hours": "0", "label": "after the leak"}

    asked = boss_client.post(ROTATE, form)
    assert asked.status_code == 200 and "Yes, rotate" in asked.content.decode()
    assert ApiKey.objects.count() == 1  # nothing issued before the confirmation

    with caplog.at_level(logging.DEBUG):
        done = boss_client.post(ROTATE, {**form, "confirmed": "yes"})

    new = ApiKey.objects.exclude(pk=old.api_key.pk).get()
    secret = done.context["secret"]
    assert secret.startswith(f"raam_{new.prefix}_") and secret in done.content.decode()
    assert "no-store" in done["Cache-Control"]
    assert api_key_authenticate(partner=CARDEKHO, presented=secret) is not None
    assert api_key_authenticate(partner=CARDEKHO, presented=old.secret) is None  # no grace: stopped at once
    assert secret not in caplog.text
    assert secret not in boss_client.get("/admin/leads/apikey/").content.decode()  # never shown again
    assert new.label == "after the leak"


def test_a_revoke_asks_first_then_stops_the_key(boss_client):
    issued = api_key_create(partner=CARDEKHO)
    url = f"/admin/leads/apikey/{issued.api_key.pk}/revoke/"

    assert "Yes, revoke it" in boss_client.get(url).content.decode()
    assert api_key_authenticate(partner=CARDEKHO, presented=issued.secret) is not None

    response = boss_client.post(url, {"confirmed": "yes"})

    assert response.status_code == 302
    assert ApiKey.objects.get().state() == "revoked"


def test_only_superusers_rotate_and_a_post_needs_its_csrf_token(manager_client):
    issued = api_key_create(partner=CARDEKHO)
    assert (
        manager_client.post(ROTATE, {"partner": "cardekho", "grace_hours": "0", "confirmed": "yes"}).status_code == 403
    )
    boss = User.objects.create_superuser("boss", "boss@raamgroup.in", "pw")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(boss)
    refused = strict.post(f"/admin/leads/apikey/{issued.api_key.pk}/revoke/", {"confirmed": "yes"})

    assert refused.status_code == 403
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().state() == "active"


def test_a_bad_grace_period_is_explained(boss_client):
    response = boss_client.post(ROTATE, {"partner": "cardekho", "grace_hours": "-1", "confirmed": "yes"})

    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert not ApiKey.objects.exists()
