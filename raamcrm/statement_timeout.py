"""The admin's requests run under a PostgreSQL ``statement_timeout`` (ADMIN_STATEMENT_TIMEOUT_MS), so no URL a
member of staff can type ties up the database that the webhooks write to; when it fires they get a page
saying so (503), not a 500.

``SET LOCAL`` lasts only until its transaction ends, so the admin's request is one transaction (as Django's
ATOMIC_REQUESTS would make it, which is off here): the pooled connection goes back with the server's own
timeout, and the next request on it, a webhook's, is not bounded by ours. The webhooks are not admin views
(they are routed before the admin, outside its namespace), and keep their own lock timeout (leads.intake.store).
A CSV download streams after the transaction has committed, so an export is not cut off half way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

logger = logging.getLogger("raamcrm.statement_timeout")

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (or by a cancel request).
QUERY_CANCELED = "57014"
_TIMED_OUT = "_admin_statement_timed_out"


class _RollBack(Exception):
    """Leaves the request's transaction by rolling it back: a cancelled statement aborted it."""


class AdminStatementTimeoutMiddleware:
    """Put it last in MIDDLEWARE: it wraps the admin's view and the rendering of its page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        milliseconds = settings.ADMIN_STATEMENT_TIMEOUT_MS
        if not milliseconds or not _is_admin(request):
            return self.get_response(request)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{milliseconds}ms"])
                response = self.get_response(request)
                if getattr(request, _TIMED_OUT, False):
                    raise _RollBack
        except _RollBack:
            return too_slow_page(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Django hands a view's (or its page's) exception here before making it a 500. A cancelled statement
        is noted and answered in ``__call__``, once the transaction it broke has been rolled back."""
        if not (isinstance(exception, OperationalError) and is_statement_timeout(exception)):
            return None
        logger.warning("An admin request outlasted the statement timeout: %s %s", request.method, request.path)
        setattr(request, _TIMED_OUT, True)
        return HttpResponse(status=503)  # replaced by too_slow_page in __call__


def is_statement_timeout(exception: BaseException) -> bool:
    cause = exception.__cause__  # Django wraps psycopg's error, which carries PostgreSQL's SQLSTATE
    return getattr(cause, "sqlstate", None) == QUERY_CANCELED


def too_slow_page(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "This took too long",
        "back_to": request.path,
        "seconds": settings.ADMIN_STATEMENT_TIMEOUT_MS / 1000,
    }
    return render(request, "admin/statement_timeout.html", context, status=503)


def _is_admin(request: HttpRequest) -> bool:
    """Whether the admin site answers this path (the webhooks under /admin/... are routed before it)."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return bool(match.namespaces) and match.namespaces[0] == admin.site.name
