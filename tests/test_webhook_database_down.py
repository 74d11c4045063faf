"""When PostgreSQL is unreachable the partner hears 503 and retries (guide §6); nothing half-written."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from leads.models import Delivery, Lead
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db(transaction=True)


class Outage:
    key = "env-key-for-outage-test"

    def __init__(self) -> None:
        self.port = connection.settings_dict["PORT"]

    def start(self) -> None:
        connection.close()
        connection.settings_dict["PORT"] = "1"

    def end(self) -> None:
        connection.close()
        connection.settings_dict["PORT"] = self.port


@pytest.fixture
def outage(settings):
    # Django reconnects lazily, so pointing the connection at a closed port is an outage it
    # discovers on its next query. The real server stays up for the assertions afterwards.
    # The env key spares authentication a query, so the outage meets the lead's own write.
    settings.LEAD_API_KEYS = {"cardekho": Outage.key}
    outage = Outage()
    outage.start()
    yield outage
    outage.end()


def test_unreachable_database_is_503_with_retry_after_and_nothing_stored(client, outage, caplog):
    response = client.post(
        CARDEKHO.path, json.dumps(dict(CARDEKHO.sample)), content_type="application/json", HTTP_X_API_KEY=outage.key
    )
    outage.end()

    assert response.status_code == 503
    assert response.json() == {"error": "Service temporarily unavailable, please retry"}
    assert int(response["Retry-After"]) > 0
    assert Lead.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert any(getattr(r, "status", None) == 503 for r in caplog.records if r.name == "leads.intake.store")


def test_database_key_lookup_during_an_outage_is_503_not_403(client, outage):
    response = client.post(
        CARDEKHO.path,
        json.dumps(dict(CARDEKHO.sample)),
        content_type="application/json",
        HTTP_X_API_KEY="raam_abcd1234_x",
    )

    assert response.status_code == 503
    assert "Retry-After" in response


@pytest.mark.timeout(60)  # without the lock timeout this waits for the lock for ever
def test_a_store_held_up_past_its_timeout_is_a_503_before_the_partner_gives_up(settings, post_lead):
    # A migration (or a stuck transaction) holds the leads table: the partner must hear 503 and retry
    # well before its 10-second timeout, not a 201 it never sees.
    import time

    import psycopg

    settings.LEAD_STORE_TIMEOUT_SECONDS = 1
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as blocker:
        blocker.execute("LOCK TABLE leads_lead IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        response = post_lead(CARDEKHO, dict(CARDEKHO.sample))
        took = time.monotonic() - started
        blocker.rollback()

    assert response.status_code == 503
    assert response["Retry-After"] == str(settings.LEAD_RETRY_AFTER_SECONDS)
    assert 1 <= took < 5
    assert not Lead.objects.exists()
    assert post_lead(CARDEKHO, dict(CARDEKHO.sample)).status_code == 201  # once the lock is gone
