"""Issue "Nothing lost", against the production gunicorn config on PostgreSQL: bodies as real HTTP clients send
them, partner lead ids, field aliases added while running, and replaying what was refused meanwhile."""

from __future__ import annotations

import gzip
import http.client
import io
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devservers import wait_for
from leads.intake.keys import api_key_create
from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE
from tests.downloads import body_of
from tests.servers import gunicorn, server_env

KEYS = {"LEAD_API_KEY_CARDEKHO": "nothing-lost-cardekho-key", "LEAD_API_KEY_CARWALE": "nothing-lost-carwale-key"}
SAMPLE = json.dumps(dict(CARDEKHO.sample)).encode()


def post(base: str, path: str, body: bytes | Iterable[bytes], **headers: str) -> tuple[int, dict]:
    """POST with http.client; an iterable body goes chunked, with no Content-Length, as streaming clients send it."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    partner = CARWALE if "carwale" in path else CARDEKHO
    sent = {
        "X-Forwarded-Proto": "https",
        "X-API-Key": KEYS[settings.LEAD_API_KEY_VARIABLES[partner.slug][0]],
        **headers,
    }
    try:
        connection.request("POST", path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_chunked_text_plain_form_and_gzip_leads_are_stored():
    form = urlencode({"customer_name": "Sunita Rao", "mobile": "9123456780"}).encode()
    text_lead = SAMPLE.replace(b"9876543210", b"9876543211").replace(b"Ravi", b"Ravi T")
    zipped_lead = gzip.compress(json.dumps({"name": "Anil", "phone": "9000000007"}).encode())
    json_type, gzip_encoded = {"Content-Type": "application/json"}, {"Content-Encoding": "gzip"}
    with gunicorn(server_env(**KEYS)) as base:
        chunked = post(base, CARDEKHO.path, iter([SAMPLE[:20], SAMPLE[20:]]), **json_type)
        text = post(base, CARDEKHO.v1_path, text_lead, **{"Content-Type": "text/plain"})
        formed = post(base, CARWALE.path, form, **{"Content-Type": "application/x-www-form-urlencoded"})
        zipped = post(base, CARWALE.v1_path, zipped_lead, **json_type, **gzip_encoded)

    assert [status for status, _ in (chunked, text, formed, zipped)] == [201, 201, 201, 201]
    names = set(Lead.objects.values_list("name", flat=True))
    assert names == {"Ravi Kumar", "Ravi T Kumar", "Sunita Rao", "Anil"}


def test_a_chunked_body_over_the_cap_is_413_and_a_gzip_bomb_is_413():
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")
    with gunicorn(server_env(**KEYS, LEAD_MAX_BODY_BYTES="65536")) as base:
        too_long = post(base, CARDEKHO.path, iter([b"{" + b" " * 16384] * 5 + [b"}"]))
        bombed = post(base, CARDEKHO.path, bomb, **{"Content-Encoding": "gzip"})

    assert len(bomb) < 65536
    assert too_long == (413, {"error": "Request body is larger than the 65536-byte limit"})
    assert bombed == (413, {"error": "Decoded request body is larger than the 65536-byte limit"})
    assert not Lead.objects.exists()


def test_a_lead_id_resent_after_the_window_and_twenty_at_once_is_one_lead():
    first_body = {"name": "Ravi", "phone_number": "9876543210", "lead_id": "CD-55"}
    with gunicorn(server_env(**KEYS), workers=2) as base:
        first = post(base, CARDEKHO.path, json.dumps(first_body).encode())
        Lead.objects.update(received_at=timezone.now() - timedelta(hours=2))
        formats = ["+91 98765 43210", "09876543210", "91-98765-43210", "(+91) 98765-43210"]

        def resend(n: int) -> tuple[int, dict]:
            body = {**first_body, "phone_number": formats[n % 4]}
            return post(base, CARDEKHO.path, json.dumps(body).encode())

        with ThreadPoolExecutor(max_workers=20) as pool:
            resends = list(pool.map(resend, range(20)))

    assert first[0] == 201
    assert {(status, body["id"], body["duplicate"]) for status, body in resends} == {(201, first[1]["id"], True)}
    assert Lead.objects.count() == 1
    assert Delivery.objects.filter(outcome="duplicate").count() == 20


def test_an_alias_added_while_running_is_used_and_the_refused_lead_is_replayed_once():
    renamed = json.dumps({"customer_name": "Sunita Rao", "buyer_mobile": "9123456780"}).encode()
    with gunicorn(server_env(**KEYS, LEAD_ALIAS_REFRESH_SECONDS="1"), workers=2) as base:
        refused = post(base, CARWALE.path, renamed)
        call_command("field_alias", "add", "carwale", "phone_number", "buyer_mobile", stdout=io.StringIO())
        wait_for(
            lambda: post(base, CARWALE.path, renamed.replace(b"9123456780", b"9123456781"))[0] == 201,
            timeout=10,
            what="the running server to use the new alias",
            interval=0.2,
        )
    out = io.StringIO()
    call_command("replay_deliveries", "--partner", "carwale", stdout=out)
    call_command("replay_deliveries", "--partner", "carwale", stdout=io.StringIO())

    assert refused == (400, {"error": "Missing required fields: phone_number"})
    # The first refused delivery is a lead now; refusals while waiting for the alias are the later lead's resends.
    assert sorted(Lead.objects.values_list("phone_e164", flat=True)) == ["+919123456780", "+919123456781"]
    first_refused = Delivery.objects.filter(status_code=400).earliest("received_at")
    assert first_refused.lead == Lead.objects.get(phone_e164="+919123456780")
    assert not Delivery.objects.filter(status_code=400, lead__isnull=True).exists()
    assert ": 1 stored as new leads, " in out.getvalue().splitlines()[-1]


def test_leads_from_a_test_key_are_stored_but_invisible_to_sales_lists_and_exports(roles):
    staging = api_key_create(partner=CARDEKHO, is_test=True, label="CarDekho staging")
    test_lead = json.dumps({"name": "Staging Sam", "phone_number": "9000000009"}).encode()
    with gunicorn(server_env(**KEYS)) as base:
        tested = post(base, CARDEKHO.path, test_lead, **{"X-API-Key": staging.secret})
        real = post(base, CARDEKHO.path, SAMPLE)
    manager = User.objects.create_user("meera", password="pw-for-tests", is_staff=True)
    manager.groups.add(Group.objects.get(name="Sales managers"))
    browser = Client()
    browser.force_login(manager)

    listed = browser.get(reverse("admin:leads_lead_changelist")).content.decode()
    exported = body_of(browser.get(reverse("admin:leads_lead_export"))).decode()

    assert (tested[0], real[0]) == (201, 201)
    assert Lead.objects.get(name="Staging Sam").is_test is True
    assert "Ravi Kumar" in listed and "Ravi Kumar" in exported
    assert "Staging Sam" not in listed and "Staging Sam" not in exported
