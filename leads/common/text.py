"""Making partner text storable: PostgreSQL refuses NUL characters and lone UTF-16 surrogates
in ``text`` and ``jsonb``, and both arrive in JSON as ``\\u0000`` and ``\\ud800``."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable_json(value: Any) -> Any:
    """A copy of parsed JSON with every string (keys too) made storable; other values unchanged."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(k): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value


def as_text(value: Any) -> str | None:
    """The text of a JSON scalar, or None for what cannot stand for a name or a phone
    (null, booleans, arrays, objects). ``9876543210`` and ``9876543210.0`` both read as digits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return storable(value).strip()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None
