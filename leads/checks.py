"""System checks for what the code assumes but cannot enforce by itself."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core import checks

from leads.common.business_time import DAY_NAMES
from leads.models import ApiKey, Lead
from leads.partners import BY_SLUG, PARTNERS
from raamcrm.rates import parse_rate

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
    variables = settings.LEAD_API_KEY_VARIABLES
    if set(variables) != set(BY_SLUG):
        errors.append(
            checks.Error(
                f"LEAD_API_KEY_VARIABLES names partners {sorted(variables)}; the registry has {sorted(BY_SLUG)}.",
                hint="Give every partner in leads.partners its environment variables, and no one else.",
                id="leads.E011",
            )
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_environment_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    """Refuses environment keys that anyone could know or guess (``check --deploy``)."""
    return environment_key_problems(settings.LEAD_API_KEYS)


def environment_key_problems(keys: Mapping[str, str]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    hint = (
        "Issue a database key (create_api_key), hand it over, and remove the variable "
        "(docs/runbooks/move-off-environment-keys.md)."
    )
    for slug, key in keys.items():
        variables = " / ".join(settings.LEAD_API_KEY_VARIABLES.get(slug, (slug,)))
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


@checks.register()
def check_business_calendar_and_limits(**kwargs: Any) -> list[checks.CheckMessage]:
    """Settings each reader accepts on its own but that make no sense together: with no business time the
    SLA never runs out and no partner is ever called silent; a soft limit above the hard one never flags."""
    return calendar_and_limit_problems(
        days=settings.LEAD_BUSINESS_DAYS,
        hours=settings.LEAD_BUSINESS_HOURS,
        soft=settings.LEAD_RATE_LIMIT_SOFT,
        hard=settings.LEAD_RATE_LIMIT_HARD,
    )


def calendar_and_limit_problems(
    *, days: list[str], hours: tuple[int, int], soft: str, hard: str
) -> list[checks.CheckMessage]:
    problems: list[checks.CheckMessage] = []
    unknown = [day for day in days if day not in DAY_NAMES]
    if unknown or not days:
        problems.append(
            checks.Error(
                f"LEAD_BUSINESS_DAYS={','.join(days)!r} names no business day or unknown ones: {unknown}.",
                hint=f"A comma list of {', '.join(DAY_NAMES)}.",
                id="leads.E008",
            )
        )
    start, end = hours
    if not 0 <= start < end <= 24:
        problems.append(
            checks.Error(
                f"LEAD_BUSINESS_HOUR_START={start} and LEAD_BUSINESS_HOUR_END={end} are no day's opening hours.",
                hint="Hours of the day from 0 to 24, the start before the end (9 and 19: 09:00 to 19:00).",
                id="leads.E009",
            )
        )
    soft_rate, hard_rate = parse_rate(soft), parse_rate(hard)
    # Within a soft window no longer than the hard one, the ceiling lets at most hard.limit through: a soft
    # limit at least that high never flags. (Windows of other shapes, 120/m against 1000/h, can both act.)
    if soft_rate.seconds <= hard_rate.seconds and soft_rate.limit >= hard_rate.limit:
        problems.append(
            checks.Error(
                f"LEAD_RATE_LIMIT_SOFT={soft} is not below LEAD_RATE_LIMIT_HARD={hard}: no lead would ever be flagged.",
                hint="The soft limit flags a burst before the hard ceiling refuses it; set it lower.",
                id="leads.E010",
            )
        )
    return problems
