from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.http.response import HttpResponseBase
from django.views import defaults

from leads.intake.ledger import DeliveryRequest, delivery_record
from leads.intake.throttling import count_auth_failure
from leads.intake.views import LedgeredView, MisdirectedLeadView
from leads.partners import GUIDE_PREFIX, V1_PREFIX, Partner, get_partner
from raamcrm.client_ip import client_ip
from raamcrm.health import health_response
from raamcrm.logs import request_id_var

logger = logging.getLogger("raamcrm.requests")

# Accept a caller's id only when it is short and plain, so it cannot forge log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id, echoed as ``X-Request-ID`` and stamped on every log line,
    and writes one access line per request (the lead endpoints write their own, richer one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            # Webhooks write their own, richer line; a healthy health check every few seconds is noise.
            quiet = _logs_own_requests(request) or (response.status_code == 200 and request.path.startswith("/healthz"))
            if not quiet:
                status = response.status_code
                logger.log(
                    logging.INFO if status < 500 else logging.ERROR,
                    "%s %s %s",
                    request.method,
                    request.path,
                    status,
                    extra={"status": status, "latency_ms": int((time.monotonic() - started) * 1000)},
                )
        finally:
            request_id_var.reset(token)
        return response


def _logs_own_requests(request: HttpRequest) -> bool:
    """Whether the view that answered declares that it writes the request's log line itself."""
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    return bool(getattr(getattr(view, "view_class", None), "logs_each_request", False))


class HealthCheckMiddleware:
    """Answers ``/healthz`` before host validation and the HTTPS redirect: Render's checker calls
    it over plain HTTP from inside its network, and it must stay cheap."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path in ("/healthz", "/healthz/"):
            return health_response()
        return self.get_response(request)


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


class PermanentRedirectKeepingMethod(HttpResponsePermanentRedirect):
    status_code = 308


class HttpsRedirectKeepsMethodMiddleware:
    """Sits outside Django's SecurityMiddleware and turns its HTTPS redirect of a POST into a 308,
    which keeps the method and body: a partner whose client follows redirects still delivers its
    lead, where a 301 would have become a GET without one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 301
            and request.method not in ("GET", "HEAD")
            and not request.is_secure()
            and response.get("Location", "").startswith("https://")
        ):
            return PermanentRedirectKeepingMethod(response["Location"])
        return response


WEBHOOK_PATHS = (f"/{GUIDE_PREFIX}/", f"/{V1_PREFIX}/")
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
                    ),
                    status_code=400,
                    error=INVALID_HOST,
                    flood=count_auth_failure(request, client_ip=caller),
                )
                body = json.dumps({"error": INVALID_HOST}, separators=(",", ":"))
                return HttpResponse(body, status=400, content_type="application/json")
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, leaving alone from the start the paths that its settings exclude.

    django-csp builds each response's policies (enforced and report-only) before it looks at their
    ``EXCLUDE_URL_PREFIXES``. The webhooks, nearly all of our traffic, are excluded: this skips building
    two policies per lead only to drop them.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if _excluded_from_every_policy(request.path_info):
            return response
        return super().process_response(request, response)


def _excluded_from_every_policy(path: str) -> bool:
    names = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    policies = (getattr(settings, name, None) for name in names)
    return all(path.startswith(tuple(policy.get("EXCLUDE_URL_PREFIXES") or ())) for policy in policies if policy)
