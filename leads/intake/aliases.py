"""Each partner's field aliases: the guide's, the common spellings, then those admins added (FieldAlias), in the
order added. Every alias is matched by its ``spelling``: case and separators do not count.

A partner that renames a field (CarWale starts sending ``buyer_mobile``) would otherwise be refused
until a release. Added aliases live in the database; every process reads them at most once a
minute (LEAD_ALIAS_REFRESH_SECONDS), so a change reaches every worker within a minute, with no
restart, and a lead costs no query for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from django.conf import settings
from django.db import IntegrityError, transaction

from leads.models import FieldAlias
from leads.partners import LEAD_FIELDS, PARTNERS, Partner

Aliases = Mapping[str, tuple[str, ...]]


def spelling(name: str) -> str:
    """A field name as aliases are matched: ``Phone_Number``, ``phoneNumber``, ``PHONE-NUMBER`` and
    ``phone number`` are all ``phonenumber``."""
    return "".join(character for character in name.casefold() if character.isalnum())


class AliasError(ValueError):
    """An alias that cannot be added or removed; the message says why."""


def partner_aliases(partner: Partner) -> Aliases:
    """Every alias of each of ``partner``'s fields, in priority order: the guide's, the common spellings
    (leads.partners.COMMON_SPELLINGS), then the added ones."""
    # A source outside the registry (the showroom's walk-ins) has its own names only.
    return _current().get(partner.slug) or partner.accepted_aliases


def added_aliases(partner: Partner) -> list[FieldAlias]:
    return list(FieldAlias.objects.filter(partner=partner.slug))


def field_alias_check(*, partner: Partner, field: str, alias: str) -> None:
    """Raises AliasError when ``alias`` cannot be added to ``partner``'s ``field``."""
    if field not in LEAD_FIELDS:
        raise AliasError(f"Unknown field {field!r}; choose one of: {', '.join(LEAD_FIELDS)}.")
    if not spelling(alias):
        raise AliasError("The alias is empty.")
    for known_field, names in partner.aliases.items():
        if spelling(alias) in map(spelling, names):
            raise AliasError(f"{alias!r} is already one of the guide's aliases of {known_field} for {partner.name}.")
    for known_field, names in partner.accepted_aliases.items():
        if spelling(alias) in map(spelling, names):
            raise AliasError(f"{alias!r} is already read as {known_field} for {partner.name} (a common spelling).")
    for existing in FieldAlias.objects.filter(partner=partner.slug):
        if spelling(existing.alias) == spelling(alias):
            raise AliasError(f"{existing.alias!r} is already an alias of {existing.field} for {partner.name}.")


def field_alias_add(*, partner: Partner, field: str, alias: str, created_by: str = "") -> FieldAlias:
    alias = alias.strip()
    field_alias_check(partner=partner, field=field, alias=alias)
    try:
        with transaction.atomic():
            added = FieldAlias.objects.create(partner=partner.slug, field=field, alias=alias, created_by=created_by)
    except IntegrityError:  # added by someone else since the check
        field_alias_check(partner=partner, field=field, alias=alias)
        raise
    aliases_changed()
    return added


def field_alias_remove(*, partner: Partner, alias: str) -> FieldAlias:
    removed = FieldAlias.objects.filter(partner=partner.slug, alias=alias.strip()).first()
    if removed is None:
        raise AliasError(f"{alias!r} is not an added alias of {partner.name}; the guide's own cannot be removed.")
    removed.delete()
    aliases_changed()
    return removed


def aliases_changed() -> None:
    """Forget this process's copy, so the next lead here reads the aliases again."""
    global _loaded_at
    with _lock:
        _loaded_at = float("-inf")


_lock = threading.Lock()
_loaded_at = float("-inf")
_by_partner: Mapping[str, Aliases] = {}


def _current() -> Mapping[str, Aliases]:
    global _loaded_at, _by_partner
    refresh = settings.LEAD_ALIAS_REFRESH_SECONDS
    if time.monotonic() - _loaded_at < refresh:
        return _by_partner
    with _lock:
        if time.monotonic() - _loaded_at >= refresh:
            _by_partner = _merged(
                FieldAlias.objects.order_by("created_at", "id").values_list("partner", "field", "alias")
            )
            _loaded_at = time.monotonic()
    return _by_partner


def _merged(added: Iterable[tuple[str, str, str]]) -> Mapping[str, Aliases]:
    extra: dict[tuple[str, str], list[str]] = {}
    for partner_slug, field, alias in added:
        extra.setdefault((partner_slug, field), []).append(alias)
    return MappingProxyType(
        {
            partner.slug: MappingProxyType(
                {
                    field: accepted + _new_spellings(extra.get((partner.slug, field), ()), known=accepted)
                    for field, accepted in partner.accepted_aliases.items()
                }
            )
            for partner in PARTNERS
        }
    )


def _new_spellings(added: Iterable[str], *, known: tuple[str, ...]) -> tuple[str, ...]:
    """The added aliases that spell no known one (nor an earlier added one) another way."""
    kept: dict[str, str] = {spelling(alias): alias for alias in known}
    return tuple(kept.setdefault(spelling(alias), alias) for alias in added if spelling(alias) not in kept)
