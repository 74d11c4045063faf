"""The admin sign-in page resists password guessing without letting a guesser lock anyone else out.

Failures are counted per (normalised username, client IP) and per client IP; a correct password from
an address that has not failed always signs in.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
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


def attempt(username, password="wrong", ip="198.51.100.20"):  # noqa: S107
    """One sign-in from a fresh browser, so no session carries over between attempts."""
    client = Client()
    response = client.post("/admin/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)
    response.signed_in = "_auth_user_id" in client.session
    return response


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
