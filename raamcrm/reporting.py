"""Error reports that never carry a partner's key, a buyer's phone number or a raw lead body."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import ItemsView
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.utils.log import AdminEmailHandler
from django.views.debug import SafeExceptionReporterFilter

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
    from sentry_sdk.types import Event, Hint

CLEANSED = SafeExceptionReporterFilter.cleansed_substitute
# Variables, settings and headers whose values are secrets or partner data, whatever they hold: Django's
# own list (keys, tokens, passwords, AUTHorization, the Cookie header), and ours.
SENSITIVE_NAMES = re.compile(
    SafeExceptionReporterFilter.hidden_settings.pattern
    + "|PHONE|MOBILE|PAYLOAD|BODY|PRESENTED|DSN|SESSION|CSRF|COOKIE|_URL$",
    re.I,
)
# The password in a URL such as REDIS_URL or DATABASE_URL (scheme://user:password@host).
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.I)
# Digits with the separators people type; eight or more digits of it is treated as a phone number.
# That also blanks some dates in a report, which is the cheaper mistake.
PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def scrub_text(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        found = match.group()
        return re.sub(r"\d", "#", found) if sum(c.isdigit() for c in found) >= 8 else found

    return PHONE_LIKE.sub(blank, URL_PASSWORD.sub(r"\1" + CLEANSED + "@", text))


class ScrubbingAdminEmailHandler(AdminEmailHandler):
    """Django's error mail, with anything phone-like blanked from subject and body: the exception
    message and the request line can carry a buyer's number even when the variables cannot."""

    def send_mail(self, subject: StrOrPromise, message: StrOrPromise, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("html_message"):
            kwargs["html_message"] = scrub_text(kwargs["html_message"])
        super().send_mail(scrub_text(str(subject)), scrub_text(str(message)), *args, **kwargs)


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
    """Lets a given message through once per window across all processes (through the cache)."""

    def __init__(self, seconds: int = 600) -> None:
        super().__init__()
        self.seconds = seconds

    def filter(self, record: logging.LogRecord) -> bool:
        identity = f"{record.name}:{record.levelno}:{record.msg}:{record.args!r}"
        key = "log-once:" + hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()
        try:
            return bool(cache.add(key, 1, timeout=self.seconds))
        except Exception:
            return True  # the cache is down: better two emails than none


def scrub_sentry_event(event: Event, hint: Hint | None = None) -> Event:
    request = event.get("request") or {}
    headers = request.get("headers")
    if isinstance(headers, dict):
        for name in list(headers):
            if SENSITIVE_NAMES.search(name):
                headers[name] = CLEANSED
    if "data" in request:
        request["data"] = CLEANSED
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
