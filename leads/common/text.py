"""Making partner text storable, and a lead's fields one line each.

PostgreSQL refuses NUL characters and lone UTF-16 surrogates in ``text`` and ``jsonb``, and both arrive in JSON
as ``\\u0000`` and ``\\ud800``. A line break in a buyer's name or car model would add lines to the salesperson's
alert email ("Open the lead: https://evil..."), so a field read from a partner is one line (``one_line``); the
lead's payload keeps the text as sent."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# Unicode's control characters (Cc: C0, DEL, C1 with U+0085 NEL) and line and paragraph separators (Zl, Zp:
# U+2028, U+2029): every character of those categories, which unicodedata.category names, spelt out.
_LINE_BREAKING = "\x00-\x1f\x7f-\x9f\u2028\u2029"
_BREAK = re.compile(f"[{_LINE_BREAKING}]")
# A run of spaces and breaks (one pattern with no backtracking: linear in a body of 64 KiB of spaces).
_SPACES_AND_BREAKS = re.compile(f"[{_LINE_BREAKING}\\s]+")


def storable(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text)


def one_line(text: str) -> str:
    """``text`` on one line: each run of line breaks and control characters (and the spaces around it) is one
    space, and the ends are trimmed."""
    return _SPACES_AND_BREAKS.sub(lambda run: " " if _BREAK.search(run[0]) else run[0], text).strip()


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
    (null, booleans, arrays, objects). ``9876543210`` and ``9876543210.0`` both read as digits. Text is read
    as one line (``one_line``): every field of a lead is."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return storable(one_line(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None
