"""A partner's JSON object to a lead's fields: each field from the partner's aliases, in priority order.

Field names are matched by their spelling (leads.intake.aliases.spelling): case and separators do not count.
When the body's own fields give no name or no phone, one object under a wrapper key (leads.partners.WRAPPER_KEYS)
is read as well; PHP form keys (``lead[name]``) stand for that nesting. The lead's payload stays as sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Field

from leads.common.text import as_text
from leads.intake.aliases import Aliases, partner_aliases, spelling
from leads.models import Lead
from leads.partners import (
    FIRST_NAME_ALIASES,
    LAST_NAME_ALIASES,
    LEAD_FIELDS,
    PHONE_CODE_KEYS,
    PHONE_NUMBER_KEYS,
    REQUIRED_FIELDS,
    WRAPPER_KEYS,
    Partner,
)


class MissingFields(Exception):
    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        super().__init__(f"Missing required fields: {', '.join(fields)}")


@dataclass(frozen=True)
class MappedLead:
    name: str
    phone_number: str
    car_model: str
    lead_url: str
    campaign: str
    partner_lead_id: str


def lead_map(*, partner: Partner, payload: Mapping[str, Any]) -> MappedLead:
    """Pick each field from the partner's aliases (leads.intake.aliases), in priority order.

    A list (a form field sent twice, a JSON array) stands for its first usable value. A null, blank
    or object alias, or a list with nothing usable, falls through to the next one; a phone may be an object
    with a number and a country code. With no name field, ``first_name`` and ``last_name`` make the name. With
    no name or no phone, a wrapped lead's fields come next. Raises MissingFields, naming the required fields in
    the guide's order, when nothing usable is left.
    """
    aliases = partner_aliases(partner)
    body = Fields(_php_nesting(payload))
    values = _picked(aliases, [body])
    if any(name not in values for name in REQUIRED_FIELDS):
        values = _picked(aliases, [body, *map(Fields, _wrapped(body))])
    missing = tuple(name for name in REQUIRED_FIELDS if name not in values)
    if missing:
        raise MissingFields(missing)
    return MappedLead(**{name: fit(name, values.get(name, "")) for name in LEAD_FIELDS})


class Fields:
    """An object's values by field name, as aliases match them: the name exactly as written first, then the
    same name in another case or style, in the order sent."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values
        self.keys_by_spelling: dict[str, list[str]] = {}
        for key in values:
            self.keys_by_spelling.setdefault(spelling(key), []).append(key)

    def get(self, alias: str) -> list[Any]:
        """Every value under ``alias``, spelt any way, the exact spelling first."""
        keys = self.keys_by_spelling.get(spelling(alias), [])
        exact = [alias] if alias in self.values else []
        return [self.values[key] for key in [*exact, *(key for key in keys if key != alias)]]

    def text(self, aliases: Iterable[str], *, phone: bool = False) -> str | None:
        """The first usable value under the first of ``aliases`` that has one."""
        for alias in aliases:
            for value in self.get(alias):
                text = _first_text(value, phone=phone)
                if text:
                    return text
        return None


def _picked(aliases: Aliases, sources: list[Fields]) -> dict[str, str]:
    """Each field's value from the first of ``sources`` that has one."""
    values: dict[str, str] = {}
    for field_name in LEAD_FIELDS:
        for source in sources:
            text = source.text(aliases[field_name], phone=field_name == "phone_number")
            if field_name == "name" and not text:
                parts = (source.text(FIRST_NAME_ALIASES), source.text(LAST_NAME_ALIASES))
                text = " ".join(part for part in parts if part)
            if text:
                values[field_name] = text
                break
    return values


def _wrapped(body: Fields) -> list[Mapping[str, Any]]:
    """The objects under the wrapper keys, in their order: one object, or a list of just one."""
    found = []
    for key in WRAPPER_KEYS:
        for value in body.get(key):
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if isinstance(value, Mapping):
                found.append(value)
    return found


def _first_text(value: Any, *, phone: bool = False) -> str | None:
    candidates = value if isinstance(value, list) else [value]
    for candidate in candidates:
        text = _phone_text(candidate) if phone and isinstance(candidate, Mapping) else as_text(candidate)
        if text:
            return text
    return None


def _phone_text(phone: Mapping[str, Any]) -> str | None:
    """A phone sent as an object, ``{"number": "9876543210", "country_code": "91"}``, as ``+91 9876543210``.
    A code that is no calling code (``"IN"``) is left out: the number is then read as Indian."""
    fields = Fields(phone)
    number = fields.text(PHONE_NUMBER_KEYS)
    code = (fields.text(PHONE_CODE_KEYS) or "").lstrip("+").strip()
    if number and code.isdigit() and not number.startswith("+"):
        return f"+{code} {number}"
    return number


# PHP's form keys for nested values: lead[name], lead[phone][number]; lead[0][name] is read as lead[name].
_PHP_KEY = re.compile(r"(?P<outer>[^\[\]]+)(?P<inner>(?:\[[^\[\]]*\])+)")
_PHP_INDEX = re.compile(r"\[([^\[\]]*)\]")


def _php_nesting(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``payload`` with its PHP-style keys also read as the objects they stand for. A key as sent wins over one
    made here: ``{"lead": "x", "lead[name]": "y"}`` keeps ``lead`` as ``"x"``. ``payload`` is not changed."""
    php_keys = {key: match for key in payload if (match := _PHP_KEY.fullmatch(key))}
    nested = {key: value for key, value in payload.items() if key not in php_keys}
    made: set[int] = set()  # the objects made here, which may take more keys (the partner's own may not)
    for key, match in php_keys.items():
        *path, leaf = [match["outer"], *(part for part in _PHP_INDEX.findall(match["inner"]) if part not in ("", "0"))]
        node = nested
        for part in path:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
                made.add(id(child))
            elif id(child) not in made:
                break
            node = child
        else:
            node.setdefault(leaf, payload[key])
    return nested


def fit(field_name: str, text: str) -> str:
    # Longer than the column: the column keeps the start, ``payload`` keeps it whole.
    field = Lead._meta.get_field(field_name)
    assert isinstance(field, Field)
    return text[: field.max_length]
