"""Reading a webhook body into a lead's fields, with an error that says exactly what is wrong.

A buyer matters more than a header: a body that parses as a JSON object is a lead whatever its
Content-Type says, and so are form fields; gzip or deflate bodies are decoded first. Text is read as
UTF-8, JSON's one encoding, and as the charset the Content-Type declares only when it is not UTF-8.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import math
import re
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType

from leads.common.bodies import CONTENT_ENCODINGS, NotInflatable, inflate
from leads.intake.exceptions import PayloadTooLarge

MAX_DEPTH = 32
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
EMPTY_BODY = "Request body is empty; send a JSON object"
_JSON_TYPE_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def media_type_of(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


_CHARSET = re.compile(r';\s*charset\s*=\s*"?([^";\s]+)', re.IGNORECASE)
# A form's field name as HTML forms and HTTP clients write them: text that is clearly not JSON.
_FORM_FIELD = re.compile(r"[\w.\-\[\]]+(?: [\w.\-\[\]]+)*")  # "utm source" (sent as utm+source) too


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type declares, as Python's codec name; None when absent or unknown."""
    declared = _CHARSET.search(content_type)
    return text_encoding(declared[1]) if declared else None


def text_encoding(name: str) -> str | None:
    """Python's name for the text encoding ``name``; None when it names none (``base64`` is a codec too,
    but not one that turns bytes into text, and ``str.encode`` refuses it)."""
    try:
        codec = codecs.lookup(name).name
        "".encode(codec)
    except (LookupError, ValueError):
        return None
    return codec


def _text(body: bytes, *, charset: str | None) -> str:
    """The body as text: UTF-8 (a BOM allowed), else the declared charset, else a 400 saying where it broke."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if charset and charset != "utf-8":
            try:
                return body.decode(charset)
            except UnicodeError as declared:  # some codecs (idna) raise it without a position
                where = f" (byte {declared.start})" if isinstance(declared, UnicodeDecodeError) else ""
                raise ParseError(f"Request body is not valid {charset}{where}") from None
        raise ParseError(f"Request body is not valid UTF-8 (byte {exc.start})") from None


def too_large(max_bytes: int, *, decoded: bool = False) -> PayloadTooLarge:
    what = "Decoded request body" if decoded else "Request body"
    return PayloadTooLarge(f"{what} is larger than the {max_bytes}-byte limit")


def decode_body(body: bytes, *, content_encoding: str, max_bytes: int) -> bytes:
    """The body with its Content-Encoding undone, never more than ``max_bytes`` of it (a zip bomb is 413)."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in CONTENT_ENCODINGS:
        raise UnsupportedMediaType(encoding, detail=f'Content-Encoding must be gzip or deflate, not "{encoding}"')
    try:
        inflated = inflate(body, content_encoding=encoding, limit=max_bytes)
    except NotInflatable:
        raise ParseError(f"Request body is not valid {encoding} data") from None
    if inflated.over_limit:
        raise too_large(max_bytes, decoded=True)
    if not inflated.complete:
        raise ParseError(f"Request body is not valid {encoding} data: it ends too soon")
    return inflated.data


def payload_from(body: bytes, *, content_type: str, content_encoding: str) -> dict[str, Any]:
    """A lead's fields from a body as sent (or as the ledger kept it): decoded, then parsed.

    A Content-Encoding that does not fit the body (``gzip`` on a plain body, a charset such as
    ``UTF-8`` in its place) is set aside when the body as sent reads as a lead.
    """
    try:
        decoded = decode_body(body, content_encoding=content_encoding, max_bytes=settings.LEAD_MAX_BODY_BYTES)
    except (ParseError, UnsupportedMediaType) as wrong_encoding:
        try:
            return parse_payload(body, content_type=content_type)
        except (ParseError, UnsupportedMediaType):
            raise wrong_encoding from None
    return parse_payload(decoded, content_type=content_type)


def parse_payload(body: bytes, *, content_type: str) -> dict[str, Any]:
    """A JSON object whatever Content-Type says; else form fields when the body is declared a form
    or plainly is one (``name=Ravi&phone_number=...`` sent as JSON, say).

    Anything else keeps the answer it always had: the JSON error when the body was declared JSON (or
    not declared at all), 415 when it was declared as something we do not read.
    """
    media_type, charset = media_type_of(content_type), charset_of(content_type)
    if not body.strip():
        raise ParseError(EMPTY_BODY)
    try:
        return parse_json_object(body, charset=charset)
    except ParseError:
        if media_type == FORM:
            return parse_form(body, charset=charset)
        if media_type == MULTIPART and (parts := parse_multipart(body, content_type=content_type)):
            return parts
        if (fields := _plain_form(body, charset=charset)) is not None:
            return fields
        if not media_type or media_type == "application/json" or media_type.endswith("+json"):
            raise
    raise UnsupportedMediaType(media_type, detail=f'Content-Type must be application/json, not "{media_type}"')


def _plain_form(body: bytes, *, charset: str | None) -> dict[str, Any] | None:
    """The body's form fields when it is unmistakably a form, whatever it was declared as; else None."""
    try:
        text = _text(body, charset=charset)
    except ParseError:
        return None
    fields = [field for field in text.strip().split("&") if field]
    names = [unquote_plus(name) for name, equals, _ in (field.partition("=") for field in fields) if equals]
    if not fields or len(names) < len(fields) or not all(_FORM_FIELD.fullmatch(name) for name in names):
        return None
    return _form_fields(text, charset=charset)


def parse_form(body: bytes, *, charset: str | None = None) -> dict[str, Any]:
    """Form fields as an object: a field sent once is a string, a field sent more than once a list.

    Escaped bytes (``%E9``) are read as UTF-8, or as the declared charset where they are not UTF-8.
    """
    return _form_fields(_text(body, charset=charset), charset=charset)


def _form_fields(text: str, *, charset: str | None) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset or "utf-8", errors="replace")
    return _fields(pairs)


def parse_multipart(body: bytes, *, content_type: str) -> dict[str, Any]:
    """A multipart form's text fields, as ``parse_form`` gives them (attached files are left out); empty when
    the body is no such form. Each field is read as UTF-8, else in its own or the form's declared charset."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    pairs = []
    try:
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        parts = list(message.iter_parts()) if message.is_multipart() else []
        for part in parts:
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str) or not name or part.get_filename() is not None:
                continue
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            charset = text_encoding(part.get_content_charset() or "") or charset_of(content_type)
            try:
                text = _text(data, charset=charset)
            except ParseError:
                text = data.decode("utf-8", "replace")  # one field's bad byte is no reason to lose the buyer
            pairs.append((name, text))
    except Exception:  # the email package's header parsing raises assorted errors on mangled input
        return {}
    return _fields(pairs)


def _fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name not in fields:
            fields[name] = value
        elif isinstance(fields[name], list):
            fields[name].append(value)
        else:
            fields[name] = [fields[name], value]
    return fields


def parse_json_object(body: bytes, *, charset: str | None = None) -> dict[str, Any]:
    if not body.strip():
        raise ParseError(EMPTY_BODY)
    value = _json_value(_text(body, charset=charset))
    if isinstance(value, str) and value.lstrip().startswith("{"):
        # A JSON object encoded twice (json.dumps of a string that is already JSON): the sender's slip, still a buyer.
        with contextlib.suppress(ParseError):
            value = _json_value(value)
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_TYPE_NAMES.get(type(value), "not an object")
        raise ParseError(f"Request body must be a JSON object, not {kind}")
    if _depth(value) > MAX_DEPTH:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep")
    return value


def _json_value(text: str) -> Any:
    try:
        # strict=False lets raw control characters (a tab, a NUL) inside strings through: strict JSON
        # forbids them, but a buyer's name with a stray tab is still a buyer.
        return json.loads(text, strict=False, parse_constant=str, parse_float=_finite_or_text, parse_int=_int_or_text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep") from None


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


NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")
BATCH_KEY = "leads"


def lead_batch(body: bytes, *, content_type: str, content_encoding: str) -> list[Any] | None:
    """The leads of a batch body, in the order sent; None when the body is no batch (it is then one lead).

    A batch is a JSON array with something in it, an object whose only property is ``leads`` holding such an
    array, or NDJSON: one JSON value a line, declared as such or plainly so (more than one line, each a JSON
    object). Each lead is returned as sent, object or not: whoever stores them says which is no lead.
    """
    with contextlib.suppress(ParseError, UnsupportedMediaType):  # a wrong Content-Encoding is set aside
        body = decode_body(body, content_encoding=content_encoding, max_bytes=settings.LEAD_MAX_BODY_BYTES)
    try:
        text = _text(body, charset=charset_of(content_type))
    except ParseError:
        return None
    try:
        value = _json_value(text)
    except ParseError:
        return _ndjson(text, declared=media_type_of(content_type) in NDJSON_TYPES)
    if isinstance(value, dict) and list(value) == [BATCH_KEY]:
        value = value[BATCH_KEY]
    return value if isinstance(value, list) and value else None


def _ndjson(text: str, *, declared: bool) -> list[Any] | None:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        values = [_json_value(line) for line in lines]
    except ParseError:
        return None
    if declared or (len(values) > 1 and all(isinstance(value, dict) for value in values)):
        return values or None
    return None


def batch_lead(value: Any) -> dict[str, Any]:
    """One lead of a batch as ``parse_json_object`` reads a body's: an object, not nested too deep."""
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_TYPE_NAMES.get(type(value), "not an object")
        raise ParseError(f"A lead must be a JSON object, not {kind}")
    if _depth(value) > MAX_DEPTH:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep")
    return value
