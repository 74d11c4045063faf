"""A key past its hard limit, against the server as render.yaml starts it: its refused leads keep their bodies
only up to the key's quota, and the rest are counted on one ledger row (real PostgreSQL and Redis)."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.db.models.functions import Length

from leads.models import Delivery
from leads.partners import CARDEKHO
from tests.servers import gunicorn, post_json, server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KEY = "flood-live-cardekho-key-0123456789abcdef"
LIMIT, KEPT, OVER = 5, 20, 200
# Hourly windows, so that no window turns over while the test runs.
ENV = {
    "LEAD_API_KEY_CARDEKHO": KEY,
    "LEAD_RATE_LIMIT_HARD": f"{LIMIT}/h",
    "LEAD_RATE_LIMIT_SOFT": f"{LIMIT}/h",
    "LEAD_REFUSED_BODIES_KEPT": f"{KEPT}/h",
}
NOTE = "x" * 30 * 1024


def test_two_hundred_leads_over_the_hard_limit_keep_no_more_bodies_than_the_keys_quota():
    answers = []
    with gunicorn(server_env(**ENV)) as base:
        for n in range(LIMIT + OVER):
            lead = {"name": "Ravi Kumar", "phone_number": f"98765{n:05d}", "notes": NOTE}
            status, body, headers = post_json(f"{base}{CARDEKHO.path}", lead, key=KEY)
            answers.append((status, body.get("error", ""), headers.get("Retry-After", "")))

    statuses = [status for status, _, _ in answers]
    assert statuses == [201] * LIMIT + [429] * OVER
    # The 429 and its Retry-After are the same whether the body was kept or not.
    assert len({error for _, error, _ in answers[LIMIT:]}) == 1
    assert all(retry_after.isdigit() for _, _, retry_after in answers[LIMIT:])
    refused = Delivery.objects.filter(status_code=429)
    kept = refused.exclude(body=b"")
    assert kept.count() == KEPT
    assert kept.aggregate(bytes=Sum(Length("body")))["bytes"] < KEPT * (len(NOTE) + 100)
    assert all(len(bytes(row.body)) > len(NOTE) for row in kept)
    (counted,) = refused.filter(body=b"")
    assert (counted.repeats, counted.body_truncated, counted.key_prefix) == (OVER - KEPT, True, "env")
    assert Delivery.objects.refused().filter(status_code=429).count() == KEPT  # what replay can read again
