"""A 5xx reaches ADMINS once, as JSON to the partner, and no report carries a key or a phone."""

from __future__ import annotations

import json
import logging

import pytest
from django.core import mail

from leads.api import views
from leads.partners import CARDEKHO
from raamcrm.logs import JsonFormatter
from raamcrm.reporting import scrub_sentry_event, scrub_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def crashing_ingest(monkeypatch):
    def crash(*, payload, **_):
        phone = payload["phone_number"]
        raise RuntimeError(f"storage exploded for {phone}")

    monkeypatch.setattr(views, "lead_ingest", crash)


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("", "ops@raamgroup.in")]


def test_unexpected_error_is_json_500_and_emails_admins_without_secrets(post_lead, keys, crashing_ingest, admins):
    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
    (message,) = mail.outbox
    assert message.to == ["ops@raamgroup.in"]
    assert "RuntimeError" in message.body
    assert keys["cardekho"] not in message.body
    assert "9876543210" not in message.body
    assert "98765 43210" not in message.body


def test_the_same_error_again_is_not_mailed_twice(post_lead, crashing_ingest, admins):
    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert len(mail.outbox) == 1


def test_error_delivery_is_still_in_the_ledger(post_lead, crashing_ingest):
    from leads.models import Delivery

    post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    delivery = Delivery.objects.get()
    assert (delivery.status_code, delivery.outcome, delivery.error) == (500, "error", "Internal server error")


def test_phone_numbers_in_any_format_are_scrubbed():
    text = scrub_text("call +91 98765 43210 or 09876543210 or 98765-43210 before 2026")

    assert text == "call +## ##### ##### or ########### or #####-##### before 2026"


def test_sentry_events_lose_keys_bodies_and_phones():
    event = {
        "request": {"headers": {"X-Api-Key": "raam_x_secret", "User-Agent": "curl"}, "data": '{"phone": "9876543210"}'},
        "exception": {
            "values": [
                {
                    "value": "bad phone 9876543210",
                    "stacktrace": {"frames": [{"vars": {"presented": "raam_x_secret", "note": "9876543210"}}]},
                }
            ]
        },
    }

    scrubbed = json.dumps(scrub_sentry_event(event))

    assert "raam_x_secret" not in scrubbed
    assert "9876543210" not in scrubbed
    assert "curl" in scrubbed


def test_log_lines_are_single_json_objects_with_the_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef123456")
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": "hello", "partner": "CarDekho"})

    line = JsonFormatter().format(record)

    assert response["X-Request-ID"] == "abcdef123456"
    assert "\n" not in line
    assert json.loads(line)["partner"] == "CarDekho"
    assert {"time", "level", "message"} <= set(json.loads(line))


def test_unsafe_request_ids_are_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID='evil"\n{"level":"INFO"}')

    assert response["X-Request-ID"] != 'evil"\n{"level":"INFO"}'
    assert len(response["X-Request-ID"]) == 32
