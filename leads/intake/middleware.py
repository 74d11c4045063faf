"""The webhooks' own middleware: a partner's lead answered in JSON and ledgered wherever it went astray."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views import defaults

from leads.intake.ledger import DeliveryRequest, delivery_record
from leads.intake.throttling import count_auth_failure
from leads.intake.views import LedgeredView, MisdirectedLeadView
from leads.partners import WEBHOOK_PREFIXES, Partner, get_partner
from raamcrm.client_ip import client_ip


class MisdirectedLeadMiddleware:
    """A POST that carries an ``X-API-Key`` is a partner's lead wherever it was sent. Sent to a path that is no
    lead endpoint (``/admin/mg-digital-lead/...``, say), it gets the API's JSON 404 and a ledger row
    (``MisdirectedLeadView``) instead of the admin's HTML CSRF refusal, a 403 that reads like a bad key. It sits
    before CsrfViewMiddleware, whose check would otherwise answer first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], *args: Any) -> HttpResponseBase | None:
        if not is_partner_lead(request):
            return None
        view_class = getattr(view, "view_class", None)
        if isinstance(view_class, type) and issubclass(view_class, LedgeredView):
            return None
        return MisdirectedLeadView.as_view()(request)


def is_partner_lead(request: HttpRequest) -> bool:
    """A POST with an X-API-Key: a partner's lead, wherever it was sent (people in the admin send no key)."""
    return request.method == "POST" and "HTTP_X_API_KEY" in request.META


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponseBase:
    """The site's 404 (raamcrm.urls.handler404): for a partner's lead sent to a path no route matches
    (/admn/..., /v2/...), the API's ledgered JSON 404 (``MisdirectedLeadMiddleware`` covers routed paths)."""
    if is_partner_lead(request):
        return MisdirectedLeadView.as_view()(request)
    return defaults.page_not_found(request, exception)


WEBHOOK_PATHS = tuple(f"/{prefix}/" for prefix in WEBHOOK_PREFIXES.values())
INVALID_HOST = "Invalid Host header"


def _partner_in(path: str) -> Partner | None:
    for prefix in WEBHOOK_PATHS:
        if path.lower().startswith(prefix):
            return get_partner(path[len(prefix) :].strip("/"))
    return None


class WebhookHostMiddleware:
    """Answers a webhook request with a disallowed ``Host`` with the API's JSON 400, where Django
    would send its HTML page: SecurityMiddleware and CommonMiddleware, which come after this one,
    raise DisallowedHost from ``request.get_host()``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.lower().startswith(WEBHOOK_PATHS):  # in any case, as the routes take them
            try:
                request.get_host()
            except DisallowedHost as exc:
                # The same log line Django writes for a bad Host anywhere else.
                logging.getLogger("django.security.DisallowedHost").error(str(exc), extra={"status_code": 400})
                caller = client_ip(request)
                delivery_record(
                    DeliveryRequest(
                        partner=_partner_in(request.path),
                        client_ip=caller,
                        request_id=getattr(request, "request_id", ""),
                        partner_request_id=getattr(request, "partner_request_id", ""),
                    ),
                    status_code=400,
                    error=INVALID_HOST,
                    flood=count_auth_failure(request, client_ip=caller),
                )
                body = json.dumps({"error": INVALID_HOST}, separators=(",", ":"))
                return HttpResponse(body, status=400, content_type="application/json")
        return self.get_response(request)
