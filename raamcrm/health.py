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
    """200 when PostgreSQL and the cache both answer; 503 naming whichever does not."""
    parts = {"database": _database(), "cache": _cache()}
    healthy = all(state == "ok" for state in parts.values())
    response = JsonResponse({"status": "ok" if healthy else "degraded", **parts}, status=200 if healthy else 503)
    response["Cache-Control"] = "no-store"
    return response
