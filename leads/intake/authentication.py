from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from leads.intake.exceptions import InvalidApiKey, MissingApiKey
from leads.intake.keys import KeyMatch, api_key_authenticate
from leads.partners import Partner

HEADER = "X-API-Key"


@dataclass(frozen=True)
class PartnerClient:
    """Stands in for ``request.user`` on the webhook endpoints: the partner the key belongs to."""

    partner: Partner
    is_authenticated: bool = True


def presented_key(request: Request) -> str:
    return request.headers.get(HEADER, "").strip()


class PartnerApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key`` must be a working key of the partner whose endpoint was called.

    On these endpoints the key is the only way in, so a missing key is this class's to judge:
    401 "Missing API key". Any other key that is not the partner's gets 403 "Invalid API key",
    including the other partner's key. It says who is calling and writes nothing.
    """

    def authenticate(self, request: Request) -> tuple[PartnerClient, KeyMatch]:
        partner: Partner = request.parser_context["view"].partner
        presented = presented_key(request)
        if not presented:
            raise MissingApiKey()
        match = api_key_authenticate(partner=partner, presented=presented)
        if match is None:
            raise InvalidApiKey()
        return PartnerClient(partner=partner), match

    def authenticate_header(self, request: Request) -> str:
        return f'ApiKey header="{HEADER}"'
