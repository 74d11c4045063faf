"""Every answer from the lead endpoints is JSON, and every error is ``{"error": "<message>"}``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.log import log_response
from rest_framework import exceptions, status
from rest_framework.response import Response

INTERNAL_ERROR = "Internal server error"
UNAVAILABLE = "Service temporarily unavailable, please retry"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large"


class InvalidApiKey(exceptions.PermissionDenied):
    default_detail = "Invalid API key"


class MissingApiKey(exceptions.NotAuthenticated):
    default_detail = "Missing API key"


class KeyInUrl(exceptions.NotAuthenticated):
    default_detail = "API key sent in the URL; send it in the X-API-Key header instead (URLs end up in logs)"


class RateLimited(exceptions.APIException):
    # Not DRF's Throttled, which appends "Expected available in N seconds." to the message.
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Rate limit exceeded"

    def __init__(self, wait: int) -> None:
        super().__init__()
        self.wait = wait


def error_response(message: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
    return Response({"error": message}, status=status_code, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, Http404):
        return error_response("Not found", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait)))  # type: ignore[attr-defined]
        return error_response(_message(exc.detail), exc.status_code, headers)
    request = getattr(context.get("request"), "_request", None)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or restarting: nothing was committed, so tell the partner to
        # retry (guide §6) rather than report a failure it cannot fix.
        response = error_response(
            UNAVAILABLE,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"Retry-After": str(settings.LEAD_RETRY_AFTER_SECONDS)},
        )
        log_response(
            "Database unavailable (%s): %s", exc, getattr(request, "path", ""), response=response, request=request
        )
        return response
    response = error_response(INTERNAL_ERROR, status.HTTP_500_INTERNAL_SERVER_ERROR)
    # Logged the way Django logs a crash, traceback included, so ADMINS get the full report once.
    log_response(
        "Internal Server Error: %s", getattr(request, "path", ""), response=response, request=request, exception=exc
    )
    return response


def _message(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(_message(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    return str(detail)
