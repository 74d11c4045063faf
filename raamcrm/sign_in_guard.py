"""Which counters judge an admin sign-in attempt, and the device cookies that let an account's own browsers by.

Failed sign-ins are counted before the password is checked (so attempts made at once cannot all slip under a
limit) and given back when the sign-in succeeds, so only failures use a limit up. They are counted:

- per client address (an IPv6 address by its /64), whatever the username: one address trying many accounts;
- per (normalised username, address): one address guessing one account;
- per normalised username across all addresses: many addresses guessing one account.

The last would let anyone lock a colleague out by typing wrong passwords for them, so it locks out only
*unknown* clients. A browser that has signed in as the account before carries a signed device cookie (OWASP,
"Slow down online guessing attacks with device cookies"). It is judged by its own counter alone, so it still
signs in with the right password while the account is locked for everyone else, and while a colleague behind
the same office address has used up the address's limit. A stolen cookie is worth only its own few guesses.

The counters are checked in that order and counting stops at the first one over its limit: an address already
blocked creates no new cache keys, however many usernames it tries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from raamcrm import limits
from raamcrm.client_ip import address_key, client_ip

DEVICE_COOKIE = "raam_device"
DEVICE_COOKIE_SALT = "raamcrm.sign_in_guard.device"
DEVICE_COOKIE_MAX_AGE = 180 * 24 * 60 * 60
# A shared desk's browser remembers the last few accounts signed in on it, not every one.
DEVICES_PER_BROWSER = 5
ACCOUNT_GROUP = "admin-login-user"


@dataclass(frozen=True)
class Counter:
    group: str
    value: str
    rate: str


@dataclass
class Attempt:
    """One sign-in attempt, counted; ``refused_by`` is the counter over its limit, if any."""

    counted: list[Counter] = field(default_factory=list)
    refused_by: Counter | None = None
    refused_usage: limits.Usage | None = None

    def succeeded(self) -> None:
        for counter in self.counted:
            limits.attempt_succeeded(group=counter.group, value=counter.value, rate=counter.rate)


def count_attempt(request: HttpRequest, username: str) -> Attempt:
    """Count a sign-in attempt for the (normalised) ``username`` against its counters, before any password check."""
    attempt = Attempt()
    for counter in _counters(request, username):
        usage = limits.count_attempt(group=counter.group, value=counter.value, rate=counter.rate)
        attempt.counted.append(counter)
        if usage is not None and usage.exceeded:
            attempt.refused_by, attempt.refused_usage = counter, usage
            break
    return attempt


def _counters(request: HttpRequest, username: str) -> list[Counter]:
    nonce = _devices(request).get(username)
    if nonce is not None:  # this browser signed in as the account before: only its own failures count
        return [Counter("admin-login-device", f"{username}\n{nonce}", settings.LOGIN_RATE_LIMIT_USERNAME)]
    address = address_key(client_ip(request))
    return [
        Counter("admin-login-ip", address, settings.LOGIN_RATE_LIMIT_IP),
        Counter("admin-login-user-ip", f"{username}\n{address}", settings.LOGIN_RATE_LIMIT_USERNAME),
        Counter(ACCOUNT_GROUP, username, settings.LOGIN_RATE_LIMIT_ACCOUNT),
    ]


def remember_device(request: HttpRequest, response: HttpResponse, username: str, *, path: str) -> None:
    """After a successful sign-in, mark this browser as one that has signed in as ``username``."""
    devices = _devices(request)
    nonce = devices.pop(username, None) or secrets.token_urlsafe(16)
    devices[username] = nonce  # most recent last
    kept = dict(list(devices.items())[-DEVICES_PER_BROWSER:])
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(kept, salt=DEVICE_COOKIE_SALT, compress=True),
        max_age=DEVICE_COOKIE_MAX_AGE,
        path=path,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _devices(request: HttpRequest) -> dict[str, str]:
    """The accounts this browser has signed in as, each with its device's nonce; none if the cookie is forged or old."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return {}
    try:
        devices = signing.loads(raw, salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one
        return {}
    if not isinstance(devices, dict):
        return {}
    return {name: nonce for name, nonce in devices.items() if isinstance(name, str) and isinstance(nonce, str)}
