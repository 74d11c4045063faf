"""A 5xx reaches ADMINS once, as JSON to the partner, and no report carries a key or a phone."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.core import mail

from leads.intake import views
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


def test_a_variable_whose_repr_fails_does_not_cost_the_report(post_lead, monkeypatch, admins):
    from leads.models import SalesProfile

    def crash(**_):
        half_built = SalesProfile()  # no user yet: its str() raises
        raise RuntimeError(f"crashed beside {type(half_built).__name__}")

    monkeypatch.setattr(views, "lead_ingest", crash)

    assert post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"}).status_code == 500
    (message,) = mail.outbox
    assert "crashed beside SalesProfile" in message.body
    # Before, the report's own repr() of half_built raised, and no mail went out.


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


def test_sentry_frames_lose_the_variables_that_hold_a_buyers_name():
    frame_vars = {"lead": "Rajesh Kumar (CarDekho)", "name": "Rajesh Kumar", "mapped": "{'name': 'Rajesh Kumar'}"}
    event = {"exception": {"values": [{"stacktrace": {"frames": [{"vars": {**frame_vars, "attempts": "3"}}]}}]}}

    scrubbed = json.dumps(scrub_sentry_event(event))

    assert "Rajesh" not in scrubbed
    assert '"attempts": "3"' in scrubbed


def test_log_lines_are_single_json_objects_with_the_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef123456")
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": "hello", "partner": "CarDekho"})

    line = JsonFormatter().format(record)

    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"] != "abcdef123456"  # ours, not theirs
    assert "\n" not in line
    assert json.loads(line)["partner"] == "CarDekho"
    assert {"time", "level", "message"} <= set(json.loads(line))


def test_unsafe_request_ids_are_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID='evil"\n{"level":"INFO"}')

    assert response["X-Request-ID"] != 'evil"\n{"level":"INFO"}'
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def crashing_dashboard(monkeypatch):
    """The admin index's chart query fails, with a buyer's phone number in the message."""
    from leads.reporting import queries

    def crash(*, days):
        raise RuntimeError("chart exploded near +91 98765 43210")

    monkeypatch.setattr(queries, "leads_per_day", crash)


def test_an_admin_500_emails_a_report_without_session_authorization_url_passwords_keys_or_phones(
    settings, admins, crashing_dashboard, keys
):
    from django.contrib.auth.models import User
    from django.test import Client

    settings.REDIS_URL = "redis://default:r3dis-pa55word-xyz@red-abc123:6379"
    settings.DATABASE_URL = "postgres://raam:pg-pa55word-xyz@dpg-abc123/raamcrm"
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("boss", "boss@raamgroup.in", "pw-for-tests"))
    session_id = client.cookies["sessionid"].value

    response = client.get(
        "/admin/?q=9876543210",
        HTTP_AUTHORIZATION="Bearer live-bearer-token-xyz",
        HTTP_X_API_KEY=keys["cardekho"],
    )

    assert response.status_code == 500
    (message,) = mail.outbox
    report = f"{message.subject}\n{message.body}"
    assert "RuntimeError" in report
    assert "HTTP_COOKIE" in report  # the report has its request section
    for secret in (
        session_id,
        "live-bearer-token-xyz",
        "r3dis-pa55word-xyz",
        "pg-pa55word-xyz",
        keys["cardekho"],
        "98765 43210",
        "9876543210",
    ):
        assert secret not in report


@pytest.fixture
def sentry_events():
    """Sentry as production sets it up, with a transport that keeps each event in memory."""
    import sentry_sdk
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.transport import Transport

    from raamcrm.reporting import init_sentry

    events: list[dict] = []

    class InMemory(Transport):
        def capture_envelope(self, envelope):
            events.extend(item.payload.json for item in envelope.items if item.type == "event")

    init_sentry("https://public@sentry.invalid/1", environment="tests", transport=InMemory)
    yield events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # an inactive client again
    ignore_logger("django.request")


def test_a_webhook_500_reaches_sentry_with_its_traceback_and_without_keys_or_phones(
    post_lead, keys, crashing_ingest, sentry_events
):
    response = post_lead(CARDEKHO, {"name": "Ravi", "phone_number": "9876543210"})

    assert response.status_code == 500
    (crash,) = [event for event in sentry_events if "exception" in event]
    (exception,) = crash["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert any(frame["function"] == "crash" for frame in exception["stacktrace"]["frames"])
    sent = json.dumps(sentry_events)
    assert keys["cardekho"] not in sent
    assert "9876543210" not in sent


def _crash_while_serving(path: str) -> None:
    """Django's own report of a crashed request, as django.request logs it (real handler, real Redis)."""
    try:
        raise RuntimeError("device lookup failed")
    except RuntimeError:
        logging.getLogger("django.request").error("Internal Server Error: %s", path, exc_info=True)


def test_one_error_type_from_many_paths_is_one_mail_and_the_next_says_how_many_were_not_mailed(admins):
    from django.core.cache import cache

    for n in range(20):
        _crash_while_serving(f"/admin/otp_totp/totpdevice/{n}/config/")
    assert len(mail.outbox) == 1
    cache.delete_many(cache.keys("log-once:*"))  # the ten minutes are over

    _crash_while_serving("/admin/otp_totp/totpdevice/99/config/")

    assert len(mail.outbox) == 2
    assert "19 more of this error since the last mail about it were not mailed." in mail.outbox[1].body
    assert "were not mailed" not in mail.outbox[0].body


def test_another_error_type_is_mailed_at_once(admins):
    _crash_while_serving("/admin/")
    try:
        raise ValueError("another bug")
    except ValueError:
        logging.getLogger("django.request").error("Internal Server Error: %s", "/admin/", exc_info=True)

    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    "written",
    ["%2B91+91234+09876", "%2B91%2091234%2009876", "+91 91234 09876", "9 1 2 3 4 0 9 8 7 6", "+919123409876"],
)
def test_phones_url_encoded_spaced_or_with_91_are_scrubbed(written):
    text = scrub_text(f"GET /admin/leads/lead/{written}/change/")

    assert "91234" not in text and "09876" not in text and "9123409876" not in text
    assert not re.search(r"\d", re.sub("%[0-9A-F]{2}", "", text))  # the path's only digits were the phone's


def test_an_admin_500_report_blanks_query_string_and_form_values_that_may_name_a_buyer(admins, crashing_dashboard):
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("boss", "boss@raamgroup.in", "pw-for-tests"))

    response = client.get("/admin/?q=Ravi+Kumar&phone=%2B91+91234+09876")

    assert response.status_code == 500
    (message,) = mail.outbox
    report = f"{message.subject}\n{message.body}\n{message.alternatives[0][0] if message.alternatives else ''}"
    assert "RuntimeError" in report
    for personal in ("Ravi", "91234", "09876"):
        assert personal not in report


def test_sentry_breadcrumbs_query_strings_and_urls_lose_names_and_phones():
    event = {
        "request": {"url": "https://crm.example/admin/leads/lead/", "query_string": "q=Ravi+Kumar"},
        "breadcrumbs": {
            "values": [
                {"category": "httplib", "data": {"url": "https://x.example/find?name=Ravi+Kumar", "method": "GET"}},
                {"category": "query", "message": "SELECT 1", "data": {"db.params": ["Ravi Kumar"]}},
                {"category": "django.request", "message": "GET /admin/?q=Ravi%20Kumar %2B91+91234+09876"},
            ]
        },
    }

    scrubbed = json.dumps(scrub_sentry_event(event))

    assert "Ravi" not in scrubbed
    assert "91234" not in scrubbed
    assert '"method": "GET"' in scrubbed
