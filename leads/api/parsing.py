"""Reading a webhook body into a JSON object, with an error that says exactly what is wrong."""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework.exceptions import ParseError, UnsupportedMediaType

from leads.api.exceptions import PayloadTooLarge

MAX_DEPTH = 32
_JSON_TYPE_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def check_content_type(content_type: str) -> None:
    """JSON, or no Content-Type at all: a partner that forgets the header still has a buyer."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(media_type, detail=f'Content-Type must be application/json, not "{media_type}"')


def check_length(content_length: int, *, max_bytes: int) -> None:
    if content_length > max_bytes:
        raise PayloadTooLarge(f"Request body is larger than the {max_bytes}-byte limit")


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise ParseError("Request body is empty; send a JSON object")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"Request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        # strict=False lets raw control characters (a tab, a NUL) inside strings through: strict JSON
        # forbids them, but a buyer's name with a stray tab is still a buyer.
        value = json.loads(text, strict=False, parse_constant=str, parse_float=_finite_or_text, parse_int=_int_or_text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_TYPE_NAMES.get(type(value), "not an object")
        raise ParseError(f"Request body must be a JSON object, not {kind}")
    if _depth(value) > MAX_DEPTH:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep")
    return value


# PostgreSQL's jsonb has no NaN or Infinity, and Python refuses to read integers of more than
# 4,300 digits. Rather than refuse a lead over an odd extra field, keep such numbers as text.
def _finite_or_text(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else text


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
