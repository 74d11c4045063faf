"""System checks for what the code assumes but cannot enforce by itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks

from leads.models import ApiKey, Lead
from leads.partners import PARTNERS


@checks.register()
def check_partner_registry(**kwargs: Any) -> list[checks.CheckMessage]:
    """Partners are found by slug in URLs and keys, and by name in the guide's ``platform`` column."""
    errors: list[checks.CheckMessage] = []
    for attribute, field in (("slug", ApiKey._meta.get_field("partner")), ("name", Lead._meta.get_field("platform"))):
        values = [getattr(partner, attribute) for partner in PARTNERS]
        if len(set(values)) != len(values):
            errors.append(checks.Error(f"Two partners share a {attribute}: {values}", id="leads.E001"))
        too_long = [value for value in values if len(value) > (field.max_length or 0)]
        if too_long:
            errors.append(
                checks.Error(
                    f"Partner {attribute}s {too_long} do not fit {field.model.__name__}.{field.name} "
                    f"(max_length={field.max_length}).",
                    id="leads.E002",
                )
            )
    return errors


@checks.register(checks.Tags.database)
def check_store_statement_connection(**kwargs: Any) -> list[checks.CheckMessage]:
    """leads.ingest sends the dedupe lock and its prepared statement as one simple query.

    That needs client-side binding (two statements in one query) and a session of our own for
    each connection (PREPARE lives in the session): a pooler in transaction mode, which Django
    asks to be declared with DISABLE_SERVER_SIDE_CURSORS, would hand the prepared statement to
    another client.
    """
    return store_statement_problems(settings.DATABASES["default"])


def store_statement_problems(database: Mapping[str, Any]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if database.get("OPTIONS", {}).get("server_side_binding"):
        errors.append(
            checks.Error(
                "OPTIONS['server_side_binding'] is on; lead ingest needs client-side binding.",
                hint="Remove server_side_binding from the database OPTIONS.",
                id="leads.E003",
            )
        )
    if database.get("DISABLE_SERVER_SIDE_CURSORS"):
        errors.append(
            checks.Error(
                "DISABLE_SERVER_SIDE_CURSORS suggests a pooler in transaction mode; lead ingest prepares "
                "a statement per connection and needs session-level connections.",
                hint="Connect to PostgreSQL directly, or through a pooler in session mode.",
                id="leads.E004",
            )
        )
    return errors
