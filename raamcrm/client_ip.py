from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address, as the last trusted proxy saw it.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``. A
    client can put anything at the front of that list, so we count ``TRUSTED_PROXY_COUNT``
    entries from the right (Render's edge adds one) and take that one. With no proxies
    trusted, or too short a list, the socket's address is the answer.
    """
    trusted = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    candidate = forwarded[-trusted] if trusted and len(forwarded) >= trusted else request.META.get("REMOTE_ADDR")
    try:
        return str(ipaddress.ip_address((candidate or "").strip()))
    except ValueError:
        return None


def address_key(address: str | None) -> str:
    """What a per-address counter counts ``address`` under: the address itself for IPv4, its /64 for IPv6.

    One home for every per-address limit (the admin's sign-in, the webhooks' failed keys). An IPv6 home or
    office is handed a whole /64, so a guesser holds millions of addresses in it: counting each one apart
    would give each its own quota. An IPv4 address written as IPv6 (``::ffff:192.0.2.1``) counts as itself.
    """
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
