"""A client flooding the webhooks with bad keys: answered 429, and counted on one ledger row per window."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from leads.models import Delivery
from leads.partners import CARDEKHO

pytestmark = pytest.mark.django_db


def test_a_thousand_keyless_requests_from_one_ip_grow_the_ledger_by_the_limit_and_a_row(post_lead, settings):
    settings.LEAD_RATE_LIMIT_AUTH_FAILURES = "30/m"

    statuses = [post_lead(CARDEKHO, dict(CARDEKHO.sample), key=None).status_code for _ in range(1000)]

    # The run takes seconds, so a window boundary may fall inside it (a run crossed one in CI): the new
    # window's first 30 are answered 401 again, and the ledger gets one more limit's worth and one more row.
    assert statuses in [_limited(1000, limit=30, new_window_at=request) for request in range(1, 1001)]
    assert Delivery.objects.count() <= 2 * (30 + 1)
    assert Delivery.objects.aggregate(total=Sum("repeats"))["total"] == 1000
    flood = Delivery.objects.filter(status_code=429).order_by("received_at").first()
    assert flood.repeats > 900 or Delivery.objects.filter(status_code=429).count() == 2


def _limited(requests: int, *, limit: int, new_window_at: int) -> list[int]:
    """The answers to ``requests`` keyless requests when the limiter's window turns at request ``new_window_at``."""
    in_window = [n if n < new_window_at else n - new_window_at for n in range(requests)]
    return [401 if n < limit else 429 for n in in_window]


def test_another_ip_gets_rows_of_its_own(post_lead, settings):
    settings.LEAD_RATE_LIMIT_AUTH_FAILURES = "2/h"  # six requests inside one window, all but surely
    for _ in range(5):
        post_lead(CARDEKHO, dict(CARDEKHO.sample), key=None, REMOTE_ADDR="203.0.113.7")

    post_lead(CARDEKHO, dict(CARDEKHO.sample), key=None, REMOTE_ADDR="203.0.113.8")

    rows = list(Delivery.objects.order_by("id").values_list("client_ip", "status_code", "repeats"))
    assert rows == [
        ("203.0.113.7", 401, 1),
        ("203.0.113.7", 401, 1),
        ("203.0.113.7", 429, 3),
        ("203.0.113.8", 401, 1),
    ]


def test_refusals_below_the_limit_each_keep_a_row_of_their_own(post_lead):
    post_lead(CARDEKHO, {"name": "A", "phone_number": "9876543210"}, key="raam_00000000_wrong")
    post_lead(CARDEKHO, {"name": "B", "phone_number": "9876543210"}, key="raam_00000000_wrong")

    assert list(Delivery.objects.values_list("status_code", "repeats")) == [(403, 1), (403, 1)]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("post", "/admin/mg-digital-leads/source/olx", 404), ("get", CARDEKHO.path, 405)],
)
def test_a_flood_refused_before_any_key_is_asked_for_is_folded_too(client, settings, method, path, status):
    settings.LEAD_RATE_LIMIT_AUTH_FAILURES = "5/m"

    statuses = {getattr(client, method)(path).status_code for _ in range(50)}

    assert statuses == {status}  # the answer stays the contract's; only the ledger stops growing
    assert Delivery.objects.count() <= 2 * (5 + 1)
    assert Delivery.objects.aggregate(total=Sum("repeats"))["total"] == 50


def test_a_bad_host_flood_is_folded_too(client, settings):
    settings.LEAD_RATE_LIMIT_AUTH_FAILURES = "5/m"
    settings.ALLOWED_HOSTS = ["raam-group-all-websites.onrender.com"]

    for _ in range(50):
        client.post(CARDEKHO.path, "{}", content_type="application/json", HTTP_HOST="evil.example")

    assert Delivery.objects.count() <= 2 * (5 + 1)
    assert Delivery.objects.aggregate(total=Sum("repeats"))["total"] == 50
