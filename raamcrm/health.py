from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger("raamcrm.health")


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        logger.error("Health check: database unreachable: %s", exc)
        connection.close_if_unusable_or_obsolete()
        return "down"


def _cache() -> str:
    try:
        cache.set("healthz", "ok", timeout=10)
        return "ok" if cache.get("healthz") == "ok" else "down"
    except Exception as exc:
        logger.error("Health check: cache unreachable: %s", exc)
        return "down"


def health_response() -> JsonResponse:
    """503 only when PostgreSQL is down; a cache outage is 200 "degraded".

    Render stops routing to an instance whose health check fails. Without PostgreSQL no lead can be
    stored, so that is right; without the cache the rate limits fail open and leads are still
    stored, so pulling the instance would turn away leads it can take.
    """
    parts = {"database": _database(), "cache": _cache()}
    if parts["database"] != "ok":
        status, code = "down", 503
    else:
        status, code = ("ok", 200) if parts["cache"] == "ok" else ("degraded", 200)
    response = JsonResponse({"status": status, **parts}, status=code)
    response["Cache-Control"] = "no-store"
    return response
