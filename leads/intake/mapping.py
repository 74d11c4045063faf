"""A partner's JSON object to a lead's fields: each field from the partner's aliases, in priority order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Field

from leads.common.text import as_text
from leads.intake.aliases import partner_aliases
from leads.models import Lead
from leads.partners import LEAD_FIELDS, REQUIRED_FIELDS, Partner


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
    or object alias, or a list with nothing usable, falls through to the next one. Raises
    MissingFields, naming the required fields in the guide's order, when nothing usable is left.
    """
    values: dict[str, str] = {}
    aliases = partner_aliases(partner)
    for field_name in LEAD_FIELDS:
        for alias in aliases[field_name]:
            text = _first_text(payload.get(alias))
            if text:
                values[field_name] = text
                break
    missing = tuple(name for name in REQUIRED_FIELDS if name not in values)
    if missing:
        raise MissingFields(missing)
    return MappedLead(**{name: fit(name, values.get(name, "")) for name in LEAD_FIELDS})


def _first_text(value: Any) -> str | None:
    candidates = value if isinstance(value, list) else [value]
    return next(filter(None, map(as_text, candidates)), None)


def fit(field_name: str, text: str) -> str:
    # Longer than the column: the column keeps the start, ``payload`` keeps it whole.
    field = Lead._meta.get_field(field_name)
    assert isinstance(field, Field)
    return text[: field.max_length]
