"""Keys are stored as SHA-256 digests, found by prefix, and the environment's key works too."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from leads.intake.keys import api_key_authenticate, api_key_create, api_key_revoke
from leads.models import ApiKey, Lead
from leads.partners import CARDEKHO, CARWALE

pytestmark = pytest.mark.django_db


def test_new_key_has_a_prefix_and_is_stored_only_as_its_digest():
    issued = api_key_create(partner=CARDEKHO, label="ops")

    row = ApiKey.objects.get()
    assert issued.secret.startswith(f"raam_{row.prefix}_")
    assert len(issued.secret) > 40
    assert row.digest == hashlib.sha256(issued.secret.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM leads_apikey")
        dumped = repr(cursor.fetchall())
    assert issued.secret not in dumped
    assert issued.secret.split("_", 2)[2] not in dumped


def test_two_keys_never_share_a_secret():
    first, second = api_key_create(partner=CARDEKHO), api_key_create(partner=CARDEKHO)

    assert first.secret != second.secret
    assert first.api_key.prefix != second.api_key.prefix


def test_key_of_another_partner_does_not_match():
    issued = api_key_create(partner=CARDEKHO)

    assert api_key_authenticate(partner=CARWALE, presented=issued.secret) is None
    assert api_key_authenticate(partner=CARDEKHO, presented=issued.secret) is not None


def test_right_prefix_with_wrong_secret_does_not_match():
    issued = api_key_create(partner=CARDEKHO)

    assert api_key_authenticate(partner=CARDEKHO, presented=issued.secret[:-1] + "x") is None


def test_environment_key_works_for_its_partner_only(settings, post_lead):
    settings.LEAD_API_KEYS = {"carwale": "carwale-env-key"}

    ok = post_lead(CARWALE, dict(CARWALE.sample), key="carwale-env-key")
    wrong = post_lead(CARDEKHO, dict(CARDEKHO.sample), key="carwale-env-key")

    assert (ok.status_code, wrong.status_code) == (201, 403)
    assert Lead.objects.get().deliveries.get().key_prefix == "env"


def test_a_key_in_use_is_trusted_without_a_lookup_until_the_store_finds_it_revoked(post_lead, cardekho_key):
    # A key this process verified is not looked up again for every lead (bench/ingest.py): the store confirms
    # it where it writes. Once the store refuses it, it is forgotten, and looked up again next time.
    secret = cardekho_key.secret
    assert post_lead(CARDEKHO, {"name": "A", "phone_number": "9000000001"}, key=secret).status_code == 201
    api_key_revoke(prefix=cardekho_key.api_key.prefix)
    trusted_after_the_revoke = api_key_authenticate(partner=CARDEKHO, presented=secret)

    response = post_lead(CARDEKHO, {"name": "B", "phone_number": "9000000002"}, key=secret)

    assert trusted_after_the_revoke is not None
    assert (response.status_code, response.json()) == (403, {"error": "Invalid API key"})
    assert api_key_authenticate(partner=CARDEKHO, presented=secret) is None
    assert list(Lead.objects.values_list("name", flat=True)) == ["A"]
