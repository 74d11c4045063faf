"""Guide §6's limits: a soft limit that only flags, a hard ceiling, and a cap on failed keys."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django_ratelimit.core import get_usage

from leads.intake import throttling as ratelimits
from leads.models import Delivery, Lead
from leads.partners import CARDEKHO, CARWALE
from raamcrm import limits
from raamcrm.client_ip import address_key, client_ip
from raamcrm.rates import Rate, parse_rate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_is_up():
    limits._cache_down_until = 0.0
    yield
    limits._cache_down_until = 0.0


def lead(n: int) -> dict[str, str]:
    return {"name": f"Buyer {n}", "phone_number": f"90000{n:05d}"}


@override_settings(LEAD_RATE_LIMIT_HARD="3/d")
def test_over_the_hard_ceiling_is_429_with_retry_after(post_lead):
    statuses = [post_lead(CARDEKHO, lead(n)).status_code for n in range(3)]

    response = post_lead(CARDEKHO, lead(99))

    assert statuses == [201, 201, 201]
    assert response.status_code == 429
    assert response.json() == {"error": "Rate limit exceeded"}
    assert 0 < int(response["Retry-After"]) <= 86400
    assert Lead.objects.count() == 3
    assert Delivery.objects.filter(outcome=Delivery.Outcome.THROTTLED, status_code=429).count() == 1


@override_settings(LEAD_RATE_LIMIT_HARD="2/d")
def test_one_partner_at_its_ceiling_leaves_the_other_unaffected(post_lead):
    for n in range(3):
        post_lead(CARDEKHO, lead(n))

    response = post_lead(CARWALE, {"customer_name": "Sunita", "mobile": "9123456780"})

    assert response.status_code == 201


@override_settings(LEAD_RATE_LIMIT_HARD="2/d")
def test_a_partners_staging_traffic_never_uses_up_its_live_ceiling(post_lead):
    from leads.intake.keys import api_key_create

    staging = api_key_create(partner=CARWALE, is_test=True).secret
    load = [{"customer_name": "Load", "mobile": f"97000{n:05d}"} for n in range(3)]
    load_test = [post_lead(CARWALE, body, key=staging) for body in load]

    live = post_lead(CARWALE, {"customer_name": "Real Buyer", "mobile": "9123456780"})

    assert [r.status_code for r in load_test] == [201, 201, 429]  # staging has its own ceiling, as large
    assert live.status_code == 201


@override_settings(LEAD_RATE_LIMIT_SOFT="2/d")
def test_over_the_soft_limit_leads_are_accepted_flagged_and_warned_once(post_lead, caplog):
    with caplog.at_level("WARNING", logger="leads.intake.throttling"):
        statuses = [post_lead(CARDEKHO, lead(n)).status_code for n in range(5)]

    assert statuses == [201] * 5
    assert Lead.objects.count() == 5
    flags = list(Delivery.objects.order_by("id").values_list("over_soft_limit", flat=True))
    assert flags == [False, False, True, True, True]
    warnings = [r for r in caplog.records if r.name == "leads.intake.throttling"]
    assert len(warnings) == 1
    assert "over the soft limit of 2/d" in warnings[0].getMessage()


def test_default_limits_are_the_guides(settings):
    assert (settings.LEAD_RATE_LIMIT_SOFT, settings.LEAD_RATE_LIMIT_HARD) == ("120/m", "600/m")
    assert settings.LEAD_RATE_LIMIT_AUTH_FAILURES == "30/m"


@override_settings(LEAD_RATE_LIMIT_AUTH_FAILURES="3/d")
def test_too_many_failed_keys_from_one_ip_is_429(post_lead):
    failures = [post_lead(CARDEKHO, lead(n), key="wrong", REMOTE_ADDR="198.51.100.7").status_code for n in range(3)]

    blocked = post_lead(CARDEKHO, lead(9), key="wrong", REMOTE_ADDR="198.51.100.7")

    assert failures == [403, 403, 403]
    assert blocked.status_code == 429
    assert blocked.json() == {"error": "Rate limit exceeded"}
    assert int(blocked["Retry-After"]) > 0


@override_settings(LEAD_RATE_LIMIT_AUTH_FAILURES="3/d", TRUSTED_PROXY_COUNT=0)
def test_missing_keys_count_as_failures_too(post_lead):
    for n in range(3):
        post_lead(CARWALE, lead(n), key=None, REMOTE_ADDR="198.51.100.8")

    assert post_lead(CARWALE, lead(9), key=None, REMOTE_ADDR="198.51.100.8").status_code == 429


@override_settings(LEAD_RATE_LIMIT_AUTH_FAILURES="3/d", TRUSTED_PROXY_COUNT=0)
def test_the_addresses_of_one_ipv6_64_share_one_failed_key_quota(post_lead):
    for host in range(1, 4):
        post_lead(CARDEKHO, lead(host), key="wrong", REMOTE_ADDR=f"2001:db8:5:6::{host}")

    blocked = post_lead(CARDEKHO, lead(9), key="wrong", REMOTE_ADDR="2001:db8:5:6:abcd::1")

    assert blocked.status_code == 429
    assert post_lead(CARDEKHO, lead(8), key="wrong", REMOTE_ADDR="2001:db8:5:7::1").status_code == 403
    assert Delivery.objects.filter(client_ip="2001:db8:5:6:abcd::1").exists()  # the ledger keeps the address


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        (None, "unknown"),
    ],
)
def test_per_address_counters_count_ipv6_by_its_64(address, key):
    assert address_key(address) == key


@override_settings(LEAD_RATE_LIMIT_AUTH_FAILURES="3/d", LEAD_RATE_LIMIT_HARD="2/d", TRUSTED_PROXY_COUNT=0)
def test_strangers_never_spend_a_partners_quota(post_lead):
    for n in range(10):
        post_lead(CARDEKHO, lead(n), key="guess", REMOTE_ADDR="203.0.113.66")

    partner = [post_lead(CARDEKHO, lead(n), REMOTE_ADDR="192.0.2.10").status_code for n in range(2)]

    assert partner == [201, 201]


def test_a_bug_of_ours_in_a_counter_is_raised_not_taken_for_the_cache_being_down(monkeypatch, caplog):
    def broken_incr(*args, **kwargs):
        raise TypeError("a bug in our own counting")

    monkeypatch.setattr(cache, "incr", broken_incr)

    with caplog.at_level("ERROR", logger="raamcrm.limits"), pytest.raises(TypeError, match="our own counting"):
        ratelimits.count_partner_request(partner_slug=CARDEKHO.slug)

    assert not [r for r in caplog.records if "limits are off" in r.getMessage()]
    assert limits._cache_down_until == 0.0  # the limits stay on for the next lead


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        }
    },
    LEAD_RATE_LIMIT_HARD="1/d",
)
def test_unreachable_cache_fails_open_and_logs_an_error(post_lead, caplog):
    with caplog.at_level("ERROR", logger="raamcrm.limits"):
        statuses = [post_lead(CARDEKHO, lead(n)).status_code for n in range(3)]

    assert statuses == [201, 201, 201]
    assert Lead.objects.count() == 3
    errors = [r for r in caplog.records if r.name == "raamcrm.limits" and r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "limits are off" in errors[0].getMessage()


@pytest.mark.parametrize(
    ("trusted", "forwarded", "remote", "expected"),
    [
        (1, "203.0.113.9", "10.0.0.1", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "10.0.0.1", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.1.1.1", "10.0.0.1", "203.0.113.9"),
        (1, "", "10.0.0.1", "10.0.0.1"),
        (0, "203.0.113.9", "10.0.0.1", "10.0.0.1"),
        (1, "not-an-ip", "10.0.0.1", None),
        (1, "2001:db8::1", "10.0.0.1", "2001:db8::1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxy_hops(settings, trusted, forwarded, remote, expected):
    settings.TRUSTED_PROXY_COUNT = trusted
    request = RequestFactory().post("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)

    assert client_ip(request) == expected


@override_settings(LEAD_RATE_LIMIT_SOFT="2/h", LEAD_RATE_LIMIT_HARD="100/d")
def test_soft_and_hard_limits_with_different_periods_count_separately(post_lead):
    statuses = [post_lead(CARDEKHO, lead(n)).status_code for n in range(3)]

    assert statuses == [201, 201, 201]
    flags = list(Delivery.objects.order_by("id").values_list("over_soft_limit", flat=True))
    assert flags == [False, False, True]


@override_settings(LEAD_RATE_LIMIT_AUTH_FAILURES="2/d", TRUSTED_PROXY_COUNT=0)
def test_a_working_key_is_never_refused_for_others_failures_from_its_address(post_lead):
    for n in range(5):
        post_lead(CARDEKHO, lead(n), key="wrong", REMOTE_ADDR="192.0.2.50")

    response = post_lead(CARDEKHO, lead(9), REMOTE_ADDR="192.0.2.50")

    assert response.status_code == 201


@pytest.fixture
def cache_calls(monkeypatch):
    """Every call the request makes on the cache, by method name: each is one round trip to Redis."""
    calls: list[str] = []
    for name in ("add", "get", "set", "incr", "decr", "get_many", "set_many", "delete", "touch", "has_key"):
        method = getattr(cache, name)
        monkeypatch.setattr(
            cache,
            name,
            lambda *args, _name=name, _method=method, **kwargs: (calls.append(_name), _method(*args, **kwargs))[1],
        )
    return calls


def test_a_lead_costs_one_cache_round_trip_once_its_window_has_begun(post_lead, cache_calls):
    assert post_lead(CARDEKHO, lead(1)).status_code == 201
    first = list(cache_calls)
    cache_calls.clear()

    statuses = [post_lead(CARDEKHO, lead(n)).status_code for n in range(2, 5)]

    assert statuses == [201] * 3
    assert first == ["incr", "add"]  # the window's first lead also creates its counter
    assert cache_calls == ["incr"] * 3


@override_settings(LEAD_RATE_LIMIT_HARD="3/d")
def test_a_counter_another_process_adds_between_our_incr_and_add_is_counted_on(post_lead, monkeypatch):
    # Another process creates the window's counter after this one found none: this one must count on it.
    real_add = cache.add

    def add_after_another_process(key, value, timeout=None):
        real_add(key, 5, timeout=timeout)  # the other process got there first, with hits of its own
        return real_add(key, value, timeout=timeout)

    monkeypatch.setattr(cache, "add", add_after_another_process)

    response = post_lead(CARDEKHO, lead(1))

    assert response.status_code == 429
    assert Lead.objects.count() == 0


@pytest.fixture
def clock(monkeypatch):
    """The wall clock, frozen at a fixed second and moved by hand: ``clock.now += 1``."""

    class Clock:
        now = 1_800_000_000.0

    monkeypatch.setattr(time, "time", lambda: Clock.now)
    return Clock


@override_settings(LEAD_RATE_LIMIT_HARD="2/m", LEAD_RATE_LIMIT_SOFT="100/m")
def test_a_partner_over_its_ceiling_is_let_in_again_when_its_window_ends(clock):
    for _ in range(2):
        ratelimits.count_partner_request(partner_slug=CARDEKHO.slug)
    refused, _ = ratelimits.count_partner_request(partner_slug=CARDEKHO.slug)
    clock.now += refused.seconds_left - 1
    still_refused, _ = ratelimits.count_partner_request(partner_slug=CARDEKHO.slug)
    clock.now += 1

    let_in, over_soft = ratelimits.count_partner_request(partner_slug=CARDEKHO.slug)

    assert (refused.count, refused.limit) == (3, 2)
    assert 1 <= refused.seconds_left <= 60
    assert still_refused is not None
    assert still_refused.count == 4
    assert let_in is None
    assert over_soft is False


@pytest.mark.parametrize("rate", ["10/s", "120/m", "100/5m", "1000/h", "3/d"])
def test_the_partner_windows_end_when_django_ratelimits_windows_do(clock, rate):
    # The partner counter is ours, the failed-key counter django-ratelimit's: one kind of window for both.
    clock.now += 0.5
    theirs = get_usage(RequestFactory().get("/"), group="compare", key=lambda _g, _r: "cardekho", rate=rate)

    ours = limits.window_end("cardekho", parse_rate(rate).seconds, int(clock.now)) - int(clock.now)

    assert (theirs["limit"], max(1, theirs["time_left"])) == (parse_rate(rate).limit, ours)


@pytest.mark.parametrize(
    ("text", "rate"),
    [("120/m", Rate(120, 60)), ("10/s", Rate(10, 1)), ("100/5m", Rate(100, 300)), ("5/M", Rate(5, 60))],
)
def test_a_rate_is_a_count_per_window(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["lots", "120", "120/", "120/minute", "/m", "-1/m", "5/0m", "1.5/m"])
def test_anything_else_is_not_a_rate(text):
    with pytest.raises(ValueError, match="is not a rate like 120/m"):
        parse_rate(text)
