"""Error reports that never carry a partner's key, a buyer's phone number or name, or a raw lead body.

Phones are recognised in text however they are written (spaced, +91, URL-encoded). Names cannot be recognised,
so what can carry one is blanked whole: every query-string and form value, and Sentry breadcrumbs' data.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import ItemsView
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
    from sentry_sdk.types import Event, Hint

CLEANSED = SafeExceptionReporterFilter.cleansed_substitute
# Variables, settings and headers whose values are secrets or partner data, whatever they hold: Django's
# own list (keys, tokens, passwords, AUTHorization, the Cookie header), and ours.
SENSITIVE_NAMES = re.compile(
    SafeExceptionReporterFilter.hidden_settings.pattern
    + "|PHONE|MOBILE|PAYLOAD|BODY|PRESENTED|DSN|SESSION|CSRF|COOKIE|_URL$|QUERY_STRING|_URI$"
    # A buyer's name cannot be recognised in text, so the variables that can hold one (a lead, its mapped fields,
    # a name, a note) are blanked whole; a "username" or "template_name" goes too, the cheaper mistake.
    + "|NAME|LEAD|MAPPED|NOTE",
    re.I,
)
# The password in a URL such as REDIS_URL or DATABASE_URL (scheme://user:password@host).
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.I)
# Digits with the separators people type, as typed or URL-encoded (%2B91+91234+09876); eight or more digits of it
# is treated as a phone number. That also blanks some dates in a report, which is the cheaper mistake.
_ESCAPE = r"%[0-9A-Fa-f]{2}"
PHONE_LIKE = re.compile(rf"(?:\+|{_ESCAPE})?\d(?:[\d\s().+/-]|{_ESCAPE}){{6,}}\d")
# A query string's values (after ? or &, up to the next & or the end of the URL).
QUERY_VALUE = re.compile(r"([?&][^=&\s#?]+=)[^&\s#\"'<]*")


def scrub_text(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        found = match.group()
        if sum(c.isdigit() for c in re.sub(_ESCAPE, "", found)) < 8:
            return found
        return re.sub(rf"{_ESCAPE}|\d", lambda part: part.group() if len(part.group()) == 3 else "#", found)

    return PHONE_LIKE.sub(blank, URL_PASSWORD.sub(r"\1" + CLEANSED + "@", text))


def scrub_url(text: str) -> str:
    """``scrub_text``, and every query-string value blanked: a search or a filter can hold a buyer's name."""
    return scrub_text(QUERY_VALUE.sub(r"\1" + CLEANSED, text))


class ScrubbingAdminEmailHandler(AdminEmailHandler):
    """Django's error mail, with anything phone-like blanked from subject and body: the exception
    message and the request line can carry a buyer's number even when the variables cannot."""

    def send_mail(self, subject: StrOrPromise, message: StrOrPromise, *args: Any, **kwargs: Any) -> None:
        message = scrub_url(str(message))
        if self.suppressed:
            message = f"{self.suppressed} more of this error since the last mail about it were not mailed.\n\n{message}"
        if kwargs.get("html_message"):
            kwargs["html_message"] = scrub_url(kwargs["html_message"])
        super().send_mail(scrub_url(str(subject)), message, *args, **kwargs)

    suppressed = 0

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle holds the handler's lock around emit, so the count reaches this record's mail only.
        self.suppressed = getattr(record, "suppressed_since_last_mail", 0)
        try:
            super().emit(record)
        finally:
            self.suppressed = 0


class ScrubbingExceptionReporter(ExceptionReporter):
    """Django's report with the query string's values blanked, as the filter blanks the form's."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if "request_GET_items" in data:
            data["request_GET_items"] = [(name, CLEANSED) for name, _ in data["request_GET_items"]]
        if isinstance(data.get("request_insecure_uri"), str):
            data["request_insecure_uri"] = scrub_url(data["request_insecure_uri"])
        return data


class ScrubbingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter (settings, request headers, cookies and variables by name), with our names added."""

    hidden_settings = SENSITIVE_NAMES

    def get_post_parameters(self, request: Any) -> Any:
        return {} if request is None else dict.fromkeys(request.POST, CLEANSED)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> ItemsView[str, Any]:
        cleaned: dict[str, Any] = {}
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            if SENSITIVE_NAMES.search(name):
                cleaned[name] = CLEANSED
            elif isinstance(value, str | int | float):
                cleaned[name] = scrub_text(str(value))
            else:
                cleaned[name] = scrub_text(_repr(value)[:4096])
        return cleaned.items()


def _repr(value: Any) -> str:
    """``repr(value)``, or a note of why not: an object half-built when the error struck (a model with no
    related row yet, say) can fail its own repr, and that must not cost the report of the real error."""
    try:
        return repr(value)
    except Exception as exc:
        return f"<{type(value).__name__}: repr failed with {type(exc).__name__}>"


class OncePerWindow(logging.Filter):
    """Lets one record of a kind through per window across all processes (through the cache), and counts the rest.

    A kind is an error type: the exception's class and where it was raised, or, with no exception, the logger and
    the message before its arguments. The request's path is left out, so 20 requests to 20 missing ids are one
    mail. The record let through next carries ``suppressed_since_last_mail``, which the mail handler prints.
    """

    def __init__(self, seconds: int = 600) -> None:
        super().__init__()
        self.seconds = seconds

    def filter(self, record: logging.LogRecord) -> bool:
        digest = hashlib.sha256(_kind(record).encode("utf-8", "replace")).hexdigest()
        window, suppressed = f"log-once:{digest}", f"log-once-suppressed:{digest}"
        try:
            if not cache.add(window, 1, timeout=self.seconds):
                if not cache.add(suppressed, 1, timeout=24 * 60 * 60):
                    cache.incr(suppressed)
                return False
            record.suppressed_since_last_mail = cache.get(suppressed, 0)
            cache.delete(suppressed)
        except Exception:
            return True  # the cache is down: better two emails than none
        return True


def _kind(record: logging.LogRecord) -> str:
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else ""
        return f"{record.name}:{type(exc).__module__}.{type(exc).__qualname__}:{where}"
    return f"{record.name}:{record.levelno}:{record.msg}"


def scrub_sentry_event(event: Event, hint: Hint | None = None) -> Event:
    request = event.get("request") or {}
    headers = request.get("headers")
    if isinstance(headers, dict):
        for name in list(headers):
            if SENSITIVE_NAMES.search(name):
                headers[name] = CLEANSED
    if "data" in request:
        request["data"] = CLEANSED
    if request.get("query_string"):
        request["query_string"] = CLEANSED
    url = request.get("url")
    if isinstance(url, str):
        request["url"] = scrub_url(url)
    breadcrumbs: Any = event.get("breadcrumbs") or {}
    for crumb in breadcrumbs.get("values", []) if isinstance(breadcrumbs, dict) else []:
        if isinstance(crumb.get("message"), str):
            crumb["message"] = scrub_url(crumb["message"])
        data = crumb.get("data")
        if isinstance(data, dict):  # a query's parameters, a form's fields: anything can hold a name
            for name, value in list(data.items()):
                data[name] = scrub_url(value) if name == "url" and isinstance(value, str) else _kept(name, value)
    for exception in (event.get("exception") or {}).get("values", []):
        if isinstance(exception.get("value"), str):
            exception["value"] = scrub_text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame_vars = frame.get("vars") or {}
            for name, value in list(frame_vars.items()):
                frame_vars[name] = CLEANSED if SENSITIVE_NAMES.search(name) else scrub_text(str(value))
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        message, params = logentry.get("message"), logentry.get("params")
        if isinstance(message, str):
            logentry["message"] = scrub_text(message)
        if isinstance(params, list):
            logentry["params"] = [scrub_text(str(param)) for param in params]
    extra = event.get("extra") or {}
    for name, value in list(extra.items()):
        extra[name] = CLEANSED if SENSITIVE_NAMES.search(name) else scrub_text(str(value))
    return event


_SAFE_BREADCRUMB_DATA = frozenset({"method", "status_code", "reason", "http.method", "http.response.status_code"})


def _kept(name: str, value: Any) -> Any:
    return value if name in _SAFE_BREADCRUMB_DATA else CLEANSED


def init_sentry(dsn: str, *, environment: str, transport: Any = None) -> None:
    """Reports errors to Sentry, scrubbed; ``transport`` is for tests (sentry-sdk's own option)."""
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
        from sentry_sdk.integrations.logging import unignore_logger
    except ImportError:  # pragma: no cover - only without the optional dependency
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SENTRY_DSN is set but sentry-sdk is not installed.") from None
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration()],
        # No send_default_pii (deprecated as an option): left unset, sentry-sdk sends no user, IP or cookies,
        # and scrub_sentry_event takes keys and phones out of what it does send.
        before_send=scrub_sentry_event,
        traces_sample_rate=0.0,
        **({"transport": transport} if transport is not None else {}),
    )
    # DjangoIntegration ignores the django.request logger, since Django's own crashes reach it by a
    # signal. The webhooks' 500s are caught by DRF's exception handler (leads.intake.exceptions) and are
    # only logged there, with their traceback, so listen to that logger too. A crash Django reports
    # both ways is sent once: sentry-sdk's dedupe drops the second event for the same exception.
    unignore_logger("django.request")
