from __future__ import annotations

import re
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from leads.intake.exceptions import InvalidApiKey, KeyInUrl, MissingApiKey
from leads.intake.keys import KeyMatch, api_key_authenticate
from leads.partners import Partner

HEADER = "X-API-Key"
# Where integrators put the key when they do not put it in X-API-Key (the guide documents that header alone),
# read in this order after it: the first one present is the key presented.
OTHER_HEADERS = ("Api-Key", "Authorization")
# "Bearer <key>" (and its cousins) in any of them: the scheme word is no part of the key.
_SCHEME = re.compile(r"(?:bearer|token|api-?key)(?:\s+|$)", re.IGNORECASE)
# Query parameters a key is sent in, compared without case or separators (api_key, apiKey, x-api-key).
URL_KEY_NAMES = frozenset({"apikey", "key", "xapikey", "token", "accesstoken"})


@dataclass(frozen=True)
class PartnerClient:
    """Stands in for ``request.user`` on the webhook endpoints: the partner the key belongs to."""

    partner: Partner
    is_authenticated: bool = True


def presented_key(request: Request) -> str:
    """The key the request presents in a header: X-API-Key, else Api-Key, else Authorization; "" when none."""
    for header in (HEADER, *OTHER_HEADERS):
        value = request.headers.get(header, "").strip()
        if value:
            scheme = _SCHEME.match(value)
            return value[scheme.end() :] if scheme else value
    return ""


def key_in_url(request: Request) -> str:
    """The key sent as a URL query parameter (``?api_key=``), "" when there is none."""
    for name in request.query_params:
        value = str(request.query_params.get(name, "")).strip()
        if value and re.sub(r"[\W_]", "", name).lower() in URL_KEY_NAMES:
            return value
    return ""


class PartnerApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key`` must be a working key of the partner whose endpoint was called.

    On these endpoints the key is the only way in, so a missing key is this class's to judge:
    401 "Missing API key". Any other key that is not the partner's gets 403 "Invalid API key",
    including the other partner's key. It says who is calling and writes nothing.

    The key is read from ``Api-Key`` or ``Authorization`` too, and with a ``Bearer`` before it, under the same
    rules. A key only in the URL is refused (401, ``KeyInUrl``) even when it works: URLs end up in logs.
    """

    def authenticate(self, request: Request) -> tuple[PartnerClient, KeyMatch]:
        partner: Partner = request.parser_context["view"].partner
        presented = presented_key(request)
        if not presented:
            raise KeyInUrl() if key_in_url(request) else MissingApiKey()
        match = api_key_authenticate(partner=partner, presented=presented)
        if match is None:
            raise InvalidApiKey()
        return PartnerClient(partner=partner), match

    def authenticate_header(self, request: Request) -> str:
        return f'ApiKey header="{HEADER}"'
