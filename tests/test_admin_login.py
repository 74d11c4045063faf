"""The admin sign-in page resists password guessing without letting a guesser lock anyone else out.

Failures are counted per (normalised username, client address), per client address and per username from all
addresses (an IPv6 address by its /64). A browser that has signed in as the account before is judged by its own
failures alone, so it still signs in with the right password.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_proxy")]

PASSWORD = "correct horse battery"


@pytest.fixture
def no_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 0  # the test client's REMOTE_ADDR is the client's address


@pytest.fixture
def staff(db):
    return User.objects.create_user("sales1", password=PASSWORD, is_staff=True)


def attempt(username, password="wrong", ip="198.51.100.20", client=None):  # noqa: S107
    """One sign-in, from a fresh browser unless ``client`` is given, so no session carries over between attempts."""
    client = client or Client()
    response = client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)
    response.signed_in = "_auth_user_id" in client.session
    return response


class CountingBackend(ModelBackend):
    """Django's own backend, counting each password it checks: a refused attempt must never reach it."""

    checked = 0
    lock = threading.Lock()

    def authenticate(self, request, username=None, password=None, **kwargs):
        with CountingBackend.lock:
            CountingBackend.checked += 1
        return super().authenticate(request, username=username, password=password, **kwargs)


@pytest.fixture
def counting_backend(settings):
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.CountingBackend"]
    CountingBackend.checked = 0
    return CountingBackend


def own_browser(ip="192.0.2.44"):
    """A browser in which sales1 has signed in before (and signed out again)."""
    client = Client()
    assert attempt("sales1", PASSWORD, ip=ip, client=client).status_code == 302
    client.post("/admin/logout/")
    return client


def test_a_normal_sign_in_works(staff):
    response = attempt("sales1", PASSWORD)

    assert response.status_code == 302
    assert response.signed_in


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/15m")
def test_a_guesser_is_refused_429_with_a_clear_message_even_with_the_right_password(staff):
    for _ in range(3):
        assert attempt("sales1").status_code == 200

    response = attempt("sales1", PASSWORD)

    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 0 < wait <= 15 * 60
    minutes = -(-wait // 60)
    plural = "s" if minutes > 1 else ""
    assert f"Too many failed sign-ins. Please try again in {minutes} minute{plural}." in response.content.decode()
    assert not response.signed_in


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/15m")
def test_the_right_password_from_an_address_that_has_not_failed_signs_in_while_a_guesser_is_locked_out(staff):
    for _ in range(6):
        attempt("sales1", ip="203.0.113.66")

    response = attempt("sales1", PASSWORD, ip="198.51.100.7")

    assert response.status_code == 302
    assert response.signed_in
    assert attempt("sales1", PASSWORD, ip="203.0.113.66").status_code == 429


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/15m")
def test_look_alike_usernames_count_against_the_same_account(staff):
    for look_alike in ("ｓales1", "𝗌ales1", "SALES1"):  # fullwidth s, mathematical sans-serif s, capitals  # noqa: RUF001
        assert attempt(look_alike).status_code == 200

    response = attempt("𝗌ales1", PASSWORD)  # noqa: RUF001

    assert response.status_code == 429
    assert not response.signed_in


@override_settings(LOGIN_RATE_LIMIT_IP="3/15m")
def test_too_many_failures_from_one_address_is_429_whatever_the_username(staff):
    for name in ("a", "b", "c"):
        attempt(name)

    response = attempt("sales1", PASSWORD)

    assert response.status_code == 429


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/15m", LOGIN_RATE_LIMIT_IP="3/15m")
def test_successful_sign_ins_are_not_counted(staff):
    responses = [attempt("sales1", PASSWORD) for _ in range(5)]

    assert [response.status_code for response in responses] == [302] * 5


@pytest.mark.django_db(transaction=True)
def test_guesses_sent_all_at_once_still_stop_at_the_limit(staff, settings):
    settings.LOGIN_RATE_LIMIT_USERNAME = "5/15m"
    guesses = 20
    barrier = threading.Barrier(guesses)

    def guess(n: int) -> int:
        barrier.wait(timeout=10)
        try:
            return attempt("sales1", f"guess-{n}").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        statuses = list(pool.map(guess, range(guesses)))

    assert statuses.count(200) <= 5  # at most the limit got as far as the password check
    assert statuses.count(429) >= guesses - 5


def test_guesses_at_one_account_from_many_addresses_are_refused_before_the_password_check_but_its_browser_signs_in(
    staff, counting_backend
):
    browser = own_browser()
    counting_backend.checked = 0

    statuses = [attempt("sales1", f"guess-{n}", ip=f"203.0.113.{n + 1}").status_code for n in range(30)]

    assert statuses == [200] * 10 + [429] * 20  # LOGIN_RATE_LIMIT_ACCOUNT: 10 per 15 minutes
    assert counting_backend.checked == 10  # the other 20 never reached a password check
    stranger = attempt("sales1", PASSWORD, ip="198.51.100.99")
    assert stranger.status_code == 429
    assert "A browser you have signed in with before can still sign in." in stranger.content.decode()
    assert counting_backend.checked == 10
    response = attempt("sales1", PASSWORD, ip="198.51.100.99", client=browser)
    assert response.status_code == 302
    assert response.signed_in


@override_settings(LOGIN_RATE_LIMIT_IP="3/15m")
def test_a_colleague_behind_the_same_office_address_cannot_lock_out_a_browser_that_signed_in_before(staff):
    browser = own_browser(ip="203.0.113.5")
    for name in ("sales1", "sales2", "someone", "sales1"):
        attempt(name, ip="203.0.113.5")
    assert attempt("sales1", PASSWORD, ip="203.0.113.5").status_code == 429  # a new browser at the office

    response = attempt("sales1", PASSWORD, ip="203.0.113.5", client=browser)

    assert response.status_code == 302
    assert response.signed_in


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/15m")
def test_a_known_browser_is_still_stopped_after_its_own_failures(staff):
    browser = own_browser()
    for _ in range(3):
        assert attempt("sales1", client=browser).status_code == 200

    assert attempt("sales1", PASSWORD, client=browser).status_code == 429


def test_a_forged_device_cookie_counts_as_an_unknown_browser(staff, counting_backend):
    browser = own_browser()
    browser.cookies["raam_device"] = browser.cookies["raam_device"].value[:-3] + "AAA"
    for n in range(10):
        attempt("sales1", ip=f"203.0.113.{n + 1}")

    assert attempt("sales1", PASSWORD, ip="198.51.100.4", client=browser).status_code == 429


@override_settings(LOGIN_RATE_LIMIT_USERNAME="3/15m")
def test_the_addresses_of_one_ipv6_64_count_as_one(staff):
    for host in range(1, 4):
        assert attempt("sales1", ip=f"2001:db8:1:2::{host}").status_code == 200

    assert attempt("sales1", PASSWORD, ip="2001:db8:1:2:ffff::9").status_code == 429
    assert attempt("sales1", PASSWORD, ip="2001:db8:1:3::1").status_code == 302  # the next /64 is another home


@override_settings(LOGIN_RATE_LIMIT_IP="3/15m")
def test_an_address_already_blocked_creates_no_new_cache_keys(staff):
    for name in ("a", "b", "c", "d"):
        attempt(name)
    keys_when_blocked = set(cache.keys("*"))

    statuses = {attempt(f"new-name-{n}").status_code for n in range(10)}

    assert statuses == {429}
    assert set(cache.keys("*")) == keys_when_blocked
