"""System checks for what the code assumes but cannot enforce by itself."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks

from leads.models import ApiKey, Lead
from leads.partners import BY_SLUG, PARTNERS

# An environment key is a shared secret that never rotates by itself; at least 32 characters (what
# `secrets.token_urlsafe(24)` gives) keeps it out of reach of guessing under the failed-key limit.
MIN_ENVIRONMENT_KEY_LENGTH = 32
# SHA-256 digests of the key values printed in the integration guide (§3.1). Every reader of the guide
# knows them, so they are not secrets; only their digests are kept here, never the values.
PRINTED_KEY_DIGESTS = frozenset(
    {
        "f21295d968ff6f85ef2288a588eae954537e17658118e1c07d71581413461769",
        "dc9ef4fba31659ce87add7a50472f26e4f9459661560ddad4f92eb805d751f35",
    }
)


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


@checks.register()
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


@checks.register(checks.Tags.security, deploy=True)
def check_environment_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    """Refuses environment keys that anyone could know or guess (``check --deploy``)."""
    return environment_key_problems(settings.LEAD_API_KEYS)


def environment_key_problems(keys: Mapping[str, str]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    hint = "Issue a database key (create_api_key), hand it over, and remove the variable (README, partner keys)."
    for slug, key in keys.items():
        variables = " / ".join(BY_SLUG[slug].env_vars) if slug in BY_SLUG else slug
        if len(key) < MIN_ENVIRONMENT_KEY_LENGTH:
            errors.append(
                checks.Error(
                    f"{variables} is {len(key)} characters long; an environment key needs at least "
                    f"{MIN_ENVIRONMENT_KEY_LENGTH}.",
                    hint=hint,
                    id="leads.E005",
                )
            )
        if hashlib.sha256(key.encode()).hexdigest() in PRINTED_KEY_DIGESTS:
            errors.append(
                checks.Error(
                    f"{variables} holds a key printed in the integration guide; everyone with the guide knows it.",
                    hint=hint,
                    id="leads.E007",
                )
            )
    sharing = [slug for slug, key in keys.items() if list(keys.values()).count(key) > 1]
    if sharing:
        errors.append(
            checks.Error(
                f"Partners {', '.join(sharing)} share one environment key, so each could send leads as the other.",
                hint=hint,
                id="leads.E006",
            )
        )
    return errors
