from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from leads.api.exceptions import InvalidApiKey, MissingApiKey
from leads.keys import KeyMatch, api_key_authenticate, claimed_prefix
from leads.partners import Partner

HEADER = "X-API-Key"


@dataclass(frozen=True)
class PartnerClient:
    """Stands in for ``request.user`` on the webhook endpoints: the partner the key belongs to."""

    partner: Partner
    is_authenticated: bool = True


class PartnerApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key`` must be an active key of the partner whose endpoint was called.

    On these endpoints the key is the only way in, so a missing key is this class's to judge:
    401 "Missing API key". Any other key that is not the partner's gets 403 "Invalid API key",
    including the other partner's key.
    """

    def authenticate(self, request: Request) -> tuple[PartnerClient, KeyMatch]:
        view = request.parser_context["view"]
        presented = request.headers.get(HEADER, "").strip()
        if not presented:
            raise MissingApiKey()
        view.delivery.key_prefix = claimed_prefix(presented)
        match = api_key_authenticate(partner=view.partner, presented=presented)
        if match is None:
            raise InvalidApiKey()
        view.delivery.key_prefix = match.prefix
        return PartnerClient(partner=view.partner), match

    def authenticate_header(self, request: Request) -> str:
        return f'ApiKey header="{HEADER}"'
