"""The admin's requests run under a PostgreSQL ``statement_timeout`` (ADMIN_STATEMENT_TIMEOUT_MS), so no URL a
member of staff can type ties up the database that the webhooks write to; when it fires they get a page
saying so (503), not a 500.

A page read (GET or HEAD) is one transaction under ``SET LOCAL``, which ends with it, so the pooled connection goes
back with the server's own timeout and the next request on it, a webhook's, is not bounded by ours; an error in
the view rolls it back. A change (POST) is not made one transaction: its views commit as they go (the ledger's
Replay action stores each delivery's lead on its own, and holding every buyer's lock until the page is drawn
would make that buyer's webhook wait), so the timeout is set on the session for the request and reset after it.
The webhooks are not admin views (they are routed before the admin, outside its namespace), and keep their own
lock timeout (leads.intake.store). A CSV download streams after the page's transaction, outside the timeout: a
whole export may rightly take longer, and each is recorded in the export log instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

logger = logging.getLogger("raamcrm.statement_timeout")

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (or by a cancel request).
QUERY_CANCELED = "57014"
_TIMED_OUT = "_admin_statement_timed_out"
_IN_READ_TRANSACTION = "_admin_read_transaction"


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
        if request.method in ("GET", "HEAD"):
            return self._read_in_one_transaction(request, f"{milliseconds}ms")
        return self._change_under_session_timeout(request, f"{milliseconds}ms")

    def _read_in_one_transaction(self, request: HttpRequest, timeout: str) -> HttpResponse:
        setattr(request, _IN_READ_TRANSACTION, True)
        try:
            with transaction.atomic():
                _timeout_set(timeout, local=True)
                response = self.get_response(request)
                if getattr(request, _TIMED_OUT, False):
                    raise _RollBack
        except _RollBack:
            return too_slow_page(request)
        return response

    def _change_under_session_timeout(self, request: HttpRequest, timeout: str) -> HttpResponse:
        _timeout_set(timeout, local=False)
        try:
            response = self.get_response(request)
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("RESET statement_timeout")
            except DatabaseError as error:
                logger.warning("Could not reset the admin's statement timeout: %s", error)
                # Inside a transaction broken by an error (a caller's own atomic block), its rollback undoes the SET
                # too. Otherwise the connection must not go back to the pool with our timeout on it.
                if not connection.in_atomic_block and connection.connection is not None:
                    connection.connection.close()
        return too_slow_page(request) if getattr(request, _TIMED_OUT, False) else response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Django hands a view's (or its page's) exception here before making it a 500. A cancelled statement
        is noted and answered in ``__call__``, once the transaction it broke has been rolled back."""
        if not (isinstance(exception, OperationalError) and is_statement_timeout(exception)):
            if getattr(request, _IN_READ_TRANSACTION, False):  # a page read that failed keeps none of its writes
                transaction.set_rollback(True)
            return None
        logger.warning("An admin request outlasted the statement timeout: %s %s", request.method, request.path)
        setattr(request, _TIMED_OUT, True)
        return HttpResponse(status=503)  # replaced by too_slow_page in __call__


def _timeout_set(timeout: str, *, local: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, %s)", [timeout, local])


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
