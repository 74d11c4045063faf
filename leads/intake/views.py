from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed, ParseError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from leads.intake import throttling as ratelimits
from leads.intake.authentication import PartnerApiKeyAuthentication, presented_key
from leads.intake.batches import batch_answer, batch_ingest, refused_keep
from leads.intake.exceptions import (
    InvalidApiKey,
    KeyInUrl,
    MissingApiKey,
    PayloadTooLarge,
    RateLimited,
    error_response,
)
from leads.intake.keys import KeyMatch, api_key_forget, claimed_prefix
from leads.intake.ledger import LEAD_STORED_STATUS, DeliveryRequest, delivery_record
from leads.intake.parsing import lead_batch, payload_from, reading_notes, too_large
from leads.intake.schema import partner_schema
from leads.intake.store import IngestResult, KeyNoLongerActive, MissingFields, lead_ingest
from leads.partners import CARDEKHO, CARWALE, GUIDE_PREFIX, Partner, get_partner
from raamcrm.client_ip import client_ip

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView
from raamcrm.limits import Usage

# An unknown partner's path, or a method we do not take: answered before a key is asked for.
UNAUTHENTICATED_REFUSALS = (status.HTTP_404_NOT_FOUND, status.HTTP_405_METHOD_NOT_ALLOWED)


class LedgeredView(APIView):
    """Leaves a Delivery row and one log line for every request, whatever its answer (a client flooding us
    with refused requests is counted on one row per window)."""

    # raamcrm.middleware leaves these requests' log line to the ledger, which writes a richer one.
    logs_each_request = True
    partner: ClassVar[Partner | None] = None
    stored: IngestResult | None = None  # set by a view that stored a lead, with its ledger row
    ledgered = False  # set by a view that wrote the request's ledger rows itself (a batch's, one a lead)
    # Set while a client floods us past the failed-key limit: its refusals are counted on one ledger row.
    flood: Usage | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> AsView[GenericView]:
        # The webhooks answer servers, not browsers: their answers stay as the guide shows them, with no
        # Content-Security-Policy (django-csp's documented exemption, which keeps the view's attributes).
        view = super().as_view(**initkwargs)
        return cast("AsView[GenericView]", csp_exempt()(view))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # What the ledger row will say; the view fills it in as it reads the request.
        self.delivery = DeliveryRequest(
            partner=self.partner,
            client_ip=client_ip(request),
            request_id=getattr(request, "request_id", ""),
            partner_request_id=getattr(request, "partner_request_id", ""),
        )
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code in UNAUTHENTICATED_REFUSALS and self.flood is None:
            # Refused before any key was asked for; counted with failed keys, so a flood folds the same way.
            self.flood = ratelimits.count_auth_failure(request, client_ip=self.delivery.client_ip)
        data = response.data if isinstance(response, Response) else None
        error = str(data.get("error", "")) if isinstance(data, dict) else ""
        delivery_record(
            self.delivery,
            status_code=response.status_code,
            error=error,
            lead=self.stored.lead if self.stored else None,
            duplicate=bool(self.stored and self.stored.duplicate),
            already_stored=self.stored is not None or self.ledgered,
            flood=self.flood,
        )
        return response


class PartnerLeadView(LedgeredView):
    """A partner's lead webhook (guide §4): authenticate, read the body, store the lead, answer."""

    partner: ClassVar[Partner]
    # Guide §4: POST only. OPTIONS too is 405 (with Allow: POST) rather than DRF's description of the view,
    # which took a key, counted against the partner's limit and went in the ledger as a lead "created".
    http_method_names = ["post"]
    authentication_classes = [PartnerApiKeyAuthentication]
    # The authenticator refuses a missing or wrong key itself; this says so, should it ever return None.
    permission_classes = [IsAuthenticated]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A wrong method is wrong whoever sends it; say so before asking for a key.
        method = (request.method or "").lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(method.upper())
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request: Request) -> None:
        # Runs before anything reads the body. A client that keeps failing is told to back off.
        try:
            request.user  # noqa: B018  (touching it runs the authenticator)
        except (MissingApiKey, InvalidApiKey, KeyInUrl) as refused:
            self.delivery = replace(self.delivery, key_prefix=claimed_prefix(presented_key(request)))
            if isinstance(refused, KeyInUrl):
                # Most likely a partner's lead with its key in the wrong place: its body stays in the ledger.
                with contextlib.suppress(PayloadTooLarge, ParseError):
                    self.keep_body(request)
            self.flood = ratelimits.count_auth_failure(request, client_ip=self.delivery.client_ip)
            if self.flood:
                raise RateLimited(wait=self.flood.seconds_left) from None
            raise
        self.delivery = replace(self.delivery, key_prefix=self.key_match(request).prefix)

    @staticmethod
    def key_match(request: Request) -> KeyMatch:
        assert isinstance(request.auth, KeyMatch)  # PartnerApiKeyAuthentication's answer
        return request.auth

    def check_throttles(self, request: Request) -> None:
        hard, over_soft_limit = ratelimits.count_partner_request(
            partner_slug=self.partner.slug, is_test=self.key_match(request).is_test
        )
        self.delivery = replace(self.delivery, over_soft_limit=over_soft_limit)
        if hard:
            # A partner's lead past its ceiling is still a buyer, and the partners' own guide says to retry
            # only 5xx: its body stays in the ledger for replay_deliveries (only the start of one too large),
            # up to the key's quota of kept bodies; past that, a row of the window counts it, with no body.
            self.flood = ratelimits.count_refused_body(
                partner_slug=self.partner.slug, key_prefix=self.delivery.key_prefix
            )
            if self.flood:
                self.delivery = replace(self.delivery, body_truncated=True)  # nothing of it kept, none to replay
            else:
                with contextlib.suppress(PayloadTooLarge):
                    self.keep_body(request)
            raise RateLimited(wait=hard.seconds_left)

    def keep_body(self, request: Request) -> bytes:
        """Read the body (``read_body``) and put it on the ledger row with how it was sent."""
        body = self.read_body(request._request)
        self.delivery = replace(
            self.delivery.with_body(body),
            content_type=request.META.get("CONTENT_TYPE", "")[:255],
            content_encoding=request.META.get("HTTP_CONTENT_ENCODING", "")[:64],
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        return body

    def post(self, request: Request) -> Response:
        body = self.keep_body(request)
        with reading_notes() as notes:
            batch = lead_batch(
                body, content_type=self.delivery.content_type, content_encoding=self.delivery.content_encoding
            )
            payload = (
                None
                if batch is not None
                else payload_from(
                    body, content_type=self.delivery.content_type, content_encoding=self.delivery.content_encoding
                )
            )
        self.delivery = replace(self.delivery, read_notes=tuple(notes))
        if batch is not None:
            return self.post_batch(request, batch)
        assert payload is not None
        match = self.key_match(request)
        try:
            self.stored = lead_ingest(
                partner=self.partner,
                payload=payload,
                delivery=self.delivery,
                api_key_id=match.api_key_id,
                idempotency_key=self.delivery.idempotency_key,
                is_test=match.is_test,
            )
        except MissingFields as exc:
            raise ParseError(str(exc)) from None
        except KeyNoLongerActive:
            # Revoked or rotated out since this process last looked it up: nothing was stored.
            api_key_forget(partner=self.partner, presented=presented_key(request))
            raise InvalidApiKey() from None
        return Response(
            {
                "message": self.partner.success_message,
                "id": str(self.stored.lead.public_id),
                "duplicate": self.stored.duplicate,
            },
            status=LEAD_STORED_STATUS,
        )

    def post_batch(self, request: Request, leads: list[Any]) -> Response:
        """Several leads in one request (leads.intake.batches): each stored on its own, answered in one list.

        Refused whole (over the batch cap, or the partner's hard ceiling), the request's ledger row keeps the
        whole body, and replay_deliveries stores its leads one by one.
        """
        cap = settings.LEAD_MAX_BATCH_LEADS
        if len(leads) > cap:
            raise PayloadTooLarge(f"A batch may hold at most {cap} leads, not {len(leads)}; send the rest separately")
        match = self.key_match(request)
        if len(leads) > 1:
            # Each lead counts against the partner's limits; check_throttles counted the first.
            hard, over_soft_limit = ratelimits.count_partner_request(
                partner_slug=self.partner.slug, is_test=match.is_test, leads=len(leads) - 1
            )
            self.delivery = replace(self.delivery, over_soft_limit=self.delivery.over_soft_limit or over_soft_limit)
            if hard:
                raise RateLimited(wait=hard.seconds_left)
        try:
            entries = batch_ingest(
                partner=self.partner,
                leads=leads,
                delivery=self.delivery,
                api_key_id=match.api_key_id,
                is_test=match.is_test,
            )
        except KeyNoLongerActive:
            api_key_forget(partner=self.partner, presented=presented_key(request))
            raise InvalidApiKey() from None
        refused_keep(entries)
        self.ledgered = True
        status_code, answer = batch_answer(self.partner, entries)
        return Response(answer, status=status_code)

    def read_body(self, request: HttpRequest) -> bytes:
        """The body as sent, under LEAD_MAX_BODY_BYTES (413 past it, with its start kept for the ledger).

        A chunked body has no Content-Length; the server has undone the chunking and Django's ASGI
        handler holds the whole body, so as much of it is read as the cap needs to be judged.
        """
        max_bytes = settings.LEAD_MAX_BODY_BYTES
        length = _content_length(request)
        chunked = not length and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked:
            body = request.read(max_bytes + 1)
        elif length > max_bytes:
            body = request.read(settings.LEAD_LEDGER_BODY_BYTES + 1)
        else:
            return request.body
        if len(body) > max_bytes or length > max_bytes:
            # Keep the start of it, enough to show the partner what they sent, then refuse.
            self.delivery = self.delivery.with_body(body)
            raise too_large(max_bytes)
        return body


def _content_length(request: HttpRequest) -> int:
    """The declared length; one that is no number of bytes is a 400 (our server refuses it before us, Django's
    development server does not, and Django's own reading of the body would raise)."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isascii() or not declared.isdigit():
        raise ParseError(f"Content-Length must be a number of bytes, not {declared[:32]!r}")
    return int(declared)


@partner_schema(CARDEKHO)
class CarDekhoLeadView(PartnerLeadView):
    partner = CARDEKHO


@partner_schema(CARWALE)
class CarWaleLeadView(PartnerLeadView):
    partner = CARWALE


class UnknownPartnerView(LedgeredView):
    """Anything else under the webhook prefix: a JSON 404 rather than the admin's login page."""

    schema = None  # not part of the published API
    # Open on purpose: it answers every caller with the same JSON 404 and reads nothing.
    permission_classes = [AllowAny]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.slug = kwargs.get("slug") or ""
        partner = get_partner(self.slug.rstrip("/"))
        if partner is not None:
            # The partner's name in another case (/source/CarDekho), or the prefix in another case: its own
            # endpoint takes the lead, where a 404 would lose it.
            return PARTNER_VIEWS[partner.slug].as_view()(request)
        return super().dispatch(request, *args, **kwargs)

    def not_found(self, request: HttpRequest) -> str:
        return f"Unknown partner: {self.slug[:64]}"

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        return error_response(self.not_found(request), status.HTTP_404_NOT_FOUND)

    options = http_method_not_allowed

    @property
    def default_response_headers(self) -> dict[str, str]:
        # DRF would say "Allow: OPTIONS", but nothing is allowed here: OPTIONS too is this 404.
        return {name: value for name, value in super().default_response_headers.items() if name != "Allow"}


class MisdirectedLeadView(UnknownPartnerView):
    """A partner's lead sent to a path that is no lead endpoint (a typo in the prefix, say): the API's JSON 404,
    ledgered, where the admin would have answered with its HTML login page or CSRF refusal, which looks like a
    key problem (leads.intake.middleware.MisdirectedLeadMiddleware sends it here)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.slug = ""
        return LedgeredView.dispatch(self, request, *args, **kwargs)

    def not_found(self, request: HttpRequest) -> str:
        return f"No lead endpoint at {request.path[:100]}; leads go to /{GUIDE_PREFIX}/<partner>"


PARTNER_VIEWS: dict[str, type[PartnerLeadView]] = {
    view.partner.slug: view for view in (CarDekhoLeadView, CarWaleLeadView)
}
