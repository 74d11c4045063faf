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
