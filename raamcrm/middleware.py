"""Project-wide middleware: request ids and the access log, the health check, and HTTPS redirects that keep a POST."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect

from raamcrm.health import health_response
from raamcrm.logs import request_id_var

logger = logging.getLogger("raamcrm.requests")

# Keep a caller's id only when it is short and plain, so it cannot forge log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id of our own, answered as ``X-Request-ID`` and stamped on every log line,
    and writes one access line per request (the lead endpoints write their own, richer one).

    A caller's own ``X-Request-ID`` is kept as theirs (``request.partner_request_id``, logged and ledgered
    beside ours), never as ours: an id a partner chose must decide nothing, such as whether a delivery
    is one of our replays."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        incoming = request.headers.get("X-Request-ID", "")
        theirs = incoming if _SAFE_REQUEST_ID.match(incoming) else ""
        request_id = uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        request.partner_request_id = theirs  # type: ignore[attr-defined]
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
                    extra={
                        "status": status,
                        "latency_ms": int((time.monotonic() - started) * 1000),
                        **({"caller_request_id": theirs} if theirs else {}),
                    },
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
