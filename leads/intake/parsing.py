"""Reading a webhook body into a lead's fields, with an error that says exactly what is wrong.

A buyer matters more than a header: a body that parses as a JSON object is a lead whatever its
Content-Type says, and so are form fields; gzip or deflate bodies are decoded first. Text is read as a
browser reads it (the WHATWG Encoding Standard): by its BOM, else the charset declared, else UTF-8, and a body
that is none of these has its encoding guessed rather than its buyer refused. What had to be guessed or
forgiven is noted (``reading_notes``) for the lead's ledger row.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import json
import math
import re
from collections.abc import Iterator
from contextvars import ContextVar
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import json5
import webencodings
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


_reading_notes: ContextVar[list[str] | None] = ContextVar("reading_notes", default=None)


@contextlib.contextmanager
def reading_notes() -> Iterator[list[str]]:
    """Collect, while a body is read inside this block, what had to be guessed or forgiven to read it
    ("encoding guessed: windows-1252"): the view puts it on the lead's ledger row, for ops to tell the partner."""
    notes: list[str] = []
    token = _reading_notes.set(notes)
    try:
        yield notes
    finally:
        _reading_notes.reset(token)


def _note(what: str) -> None:
    notes = _reading_notes.get()
    if notes is not None and what not in notes:
        notes.append(what)


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type declares, as Python's codec name; None when absent or unknown."""
    declared = _CHARSET.search(content_type)
    return text_encoding(declared[1]) if declared else None


def text_encoding(label: str) -> str | None:
    """Python's codec for the charset ``label`` as the WHATWG Encoding Standard maps labels (``iso-8859-1``,
    ``latin1`` and ``us-ascii`` are windows-1252, ``utf-16`` is UTF-16LE), else as Python names it; None when
    it names no text encoding (``base64`` is a codec, but not one that turns bytes into text, and the
    Standard's "replacement" encoding would read a whole body as one U+FFFD)."""
    whatwg = webencodings.lookup(label)
    name = whatwg.codec_info.name if whatwg else label
    try:
        codec = codecs.lookup(name).name
        "".encode(codec)
    except (LookupError, ValueError):
        return None
    return codec


# The Encoding Standard's BOM sniffing, in its order.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF16_LE, "utf-16-le"))
_UTF_16 = ("utf-16-le", "utf-16-be")
_GUESS_NAMES = {"utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE", "cp1252": "windows-1252"}


def _text(body: bytes, *, charset: str | None) -> str:
    """The body as text, never refused for its encoding: by its BOM, else the declared charset, else UTF-8.

    A body that is valid UTF-8 is read as UTF-8 whatever single-byte charset it declares: UTF-8 sent as
    ISO-8859-1 is a far commoner slip than legacy text that happens to be valid UTF-8. A body in none of these
    has its encoding guessed, and noted: UTF-16 by its zero bytes, else windows-1252 (the Standard's reading of
    Latin-1, which also reads every byte).
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, "replace")
    if charset in _UTF_16:
        return body.decode(charset, "replace")
    # Checked before UTF-8: UTF-16 of ASCII text is valid UTF-8 too, with a NUL between every character.
    if charset in (None, "utf-8") and (utf_16 := _utf_16_by_zero_bytes(body)):
        return _guessed(body, utf_16)
    with contextlib.suppress(UnicodeDecodeError):
        return body.decode("utf-8")
    if charset and charset != "utf-8":
        with contextlib.suppress(UnicodeError):  # some codecs (idna) raise it without a position
            return body.decode(charset)
    return _guessed(body, "cp1252")


def body_text(body: bytes, *, content_type: str) -> str:
    """A (decoded) body as text, read as a lead's body is: for what reads as no lead (erase_buyer searches it)."""
    return _text(body, charset=charset_of(content_type))


def _guessed(body: bytes, encoding: str) -> str:
    _note(f"encoding guessed: {_GUESS_NAMES[encoding]}")
    return body.decode(encoding, "replace")


def _utf_16_by_zero_bytes(body: bytes) -> str | None:
    """The UTF-16 codec ``body`` is plainly in, with no BOM, else None: text that is mostly ASCII, as JSON and
    form fields are, has a zero byte in every other place, and (nearly) none between."""
    if len(body) < 2 or len(body) % 2:
        return None
    pairs, zeros_first, zeros_second = len(body) // 2, body[0::2].count(0), body[1::2].count(0)
    if zeros_second * 2 > pairs and zeros_first * 8 < zeros_second:
        return "utf-16-le"
    if zeros_first * 2 > pairs and zeros_second * 8 < zeros_first:
        return "utf-16-be"
    return None


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
        if parts := parse_multipart(body, content_type=content_type):
            return parts
        if (fields := _plain_form(body, charset=charset)) is not None:
            return fields
        if not media_type or media_type == "application/json" or media_type.endswith("+json"):
            raise
    raise UnsupportedMediaType(media_type, detail=f'Content-Type must be application/json, not "{media_type}"')


def _plain_form(body: bytes, *, charset: str | None) -> dict[str, Any] | None:
    """The body's form fields when it is unmistakably a form, whatever it was declared as; else None."""
    text = _text(body, charset=charset)
    fields = [field for field in text.strip().split("&") if field]
    names = [unquote_plus(name) for name, equals, _ in (field.partition("=") for field in fields) if equals]
    if not fields or len(names) < len(fields) or not all(_FORM_FIELD.fullmatch(name) for name in names):
        return None
    return _form_fields(text, charset=charset)


def parse_form(body: bytes, *, charset: str | None = None) -> dict[str, Any]:
    """Form fields as an object: a field sent once is a string, a field sent more than once a list.

    Escaped bytes (``%E9``) are read as UTF-8, or as the declared charset where they are not UTF-8, or with
    none declared as windows-1252 (noted as a guess).
    """
    return _form_fields(_text(body, charset=charset), charset=charset)


def _form_fields(text: str, *, charset: str | None) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        if charset is None:
            _note("encoding guessed: windows-1252")
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset or "cp1252", errors="replace")
    return _fields(pairs)


# A multipart body's first line: its boundary (RFC 2046 §5.1.1), after any blank lines.
_FIRST_BOUNDARY = re.compile(rb"(?:\r?\n)*--([0-9A-Za-z'()+_,\-./:=?]{1,70})\r?\n")


def parse_multipart(body: bytes, *, content_type: str) -> dict[str, Any]:
    """A multipart form's text fields, as ``parse_form`` gives them (attached files are left out); empty when
    the body is no such form. Each field is read as UTF-8, else in its own or the form's declared charset.

    A multipart body declared as JSON (or not at all) is read by the boundary on its first line: PHP's curl
    given an array of fields sends one, under the Content-Type: application/json the integrator set.
    A form of a single field holding a JSON object (``['lead' => json_encode($lead)]``) is that object.
    """
    media_type = media_type_of(content_type)
    if media_type != MULTIPART:
        boundary = _FIRST_BOUNDARY.match(body)
        if boundary is None or not _declared_json(media_type):
            return {}
        fields = parse_multipart(body, content_type=f'{MULTIPART}; boundary="{boundary[1].decode()}"')
        if fields:
            _note(f"a multipart body sent as {media_type or 'no Content-Type'}")
        return fields
    fields = _multipart_fields(body, content_type=content_type)
    if len(fields) == 1 and isinstance(value := next(iter(fields.values())), str):
        with contextlib.suppress(ParseError):
            lead = parse_json_object(value.encode())
            _note("a JSON object inside a multipart field")
            return lead
    return fields


def _declared_json(media_type: str) -> bool:
    return not media_type or media_type == "application/json" or media_type.endswith("+json")


# The email package reads a multipart body line by line and part by part, nested parts too: 64 KiB of nested or
# tiny parts cost it about a second of CPU. A lead's form has a few dozen fields and nothing nested, so a body past
# these is refused before it is parsed (cheap scans of the bytes), and stays in the ledger as every refusal does.
MULTIPART_MAX_PARTS = 200  # delimiter lines ("--boundary"), at any depth
MULTIPART_MAX_DEPTH = 2  # the form, and parts that are multiparts themselves (RFC 2388's files), no deeper
MULTIPART_MAX_NESTED = 20  # multiparts inside the form, side by side or one in another: each is a parse of its own
MULTIPART_MAX_LINES = 4000
_DELIMITER_LINE = re.compile(rb"^--", re.MULTILINE)
_NESTED_MULTIPART = re.compile(rb"^content-type:[ \t]*multipart/", re.MULTILINE | re.IGNORECASE)
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*"?([^";\s]+)', re.IGNORECASE)


def _within_budget(body: bytes) -> None:
    """Refuse a multipart body too costly to parse: 400 for nesting too deep, 413 for too many parts or lines."""
    if _multipart_depth(body) > MULTIPART_MAX_DEPTH:
        raise ParseError(f"A multipart body may nest at most {MULTIPART_MAX_DEPTH} levels deep")
    if len(_NESTED_MULTIPART.findall(body)) > MULTIPART_MAX_NESTED:
        raise PayloadTooLarge(f"A multipart body may hold at most {MULTIPART_MAX_NESTED} multiparts")
    if len(_DELIMITER_LINE.findall(body)) > MULTIPART_MAX_PARTS:
        raise PayloadTooLarge(f"A multipart body may hold at most {MULTIPART_MAX_PARTS} parts")
    if body.count(b"\n") > MULTIPART_MAX_LINES:
        raise PayloadTooLarge(f"A multipart body may hold at most {MULTIPART_MAX_LINES} lines")


def _multipart_depth(body: bytes) -> int:
    """How deep the body's multiparts nest, the form itself being level 1, in one pass over its lines: a nested
    multipart's header opens a level under its boundary, and that boundary's closing delimiter ends it. A header
    whose boundary is not on its own line (folded) is taken to stay open, so it counts against the depth."""
    open_levels: list[bytes | None] = []
    deepest = 0
    for line in body.splitlines():
        if open_levels and open_levels[-1] is not None and line.rstrip() == b"--" + open_levels[-1] + b"--":
            open_levels.pop()
        elif _NESTED_MULTIPART.match(line):
            boundary = _BOUNDARY.search(line)
            open_levels.append(boundary.group(1) if boundary else None)
            deepest = max(deepest, len(open_levels))
    return deepest + 1


def _multipart_fields(body: bytes, *, content_type: str) -> dict[str, Any]:
    _within_budget(body)
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
            pairs.append((name, _text(data, charset=charset)))
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
    return _json_object(value, what="Request body")


def _json_value(text: str) -> Any:
    try:
        # strict=False lets raw control characters (a tab, a NUL) inside strings through: strict JSON
        # forbids them, but a buyer's name with a stray tab is still a buyer.
        return json.loads(text, strict=False, parse_constant=str, parse_float=_finite_or_text, parse_int=_int_or_text)
    except json.JSONDecodeError as exc:
        malformed = ParseError(f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep") from None
    near = _near_json(text)
    if near is not None:
        _note("near-JSON (a trailing comma, single quotes or the like)")
        return near
    literal = _python_literal(text)
    if literal is None:
        raise malformed
    _note("near-JSON: a Python literal (True, False, None)")
    return literal


# json5 is pure Python, some hundred times slower than json: a lead is a few hundred bytes, and a body
# longer than this that is not JSON is not worth a worker's second to read as near-JSON.
NEAR_JSON_MAX_CHARS = 8192


def _near_json(text: str) -> Any:
    """``text`` read as JSON5 (a trailing comma, single quotes: a Python dict's repr), or None when it is not
    that, or not unambiguously so (a key given twice)."""
    if len(text) > NEAR_JSON_MAX_CHARS or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        return json5.loads(
            text,
            allow_duplicate_keys=False,
            parse_constant=str,
            parse_float=_finite_or_text,
            parse_int=_int_or_text,
        )
    except (ValueError, RecursionError):
        return None


def _python_literal(text: str) -> dict[str, Any] | list[Any] | None:
    """``text`` read as a Python dict's or list's repr (``True``, ``False``, ``None``, which JSON5 lacks) by
    ``ast.literal_eval``, which reads literals and never runs code; None when it is not that, or holds what JSON
    cannot (a tuple, a set, a key that is not text, a key given twice: ambiguous), or is over NEAR_JSON_MAX_CHARS."""
    if len(text) > NEAR_JSON_MAX_CHARS or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
        value = ast.literal_eval(tree)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    keys_twice = any(
        len({ast.dump(key) for key in node.keys if key}) < len(node.keys)
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
    )
    return None if keys_twice or not _json_like(value) else value


def _json_like(value: Any) -> bool:
    """Whether ``value`` is what JSON could have said: objects with text keys, arrays, text, finite numbers,
    booleans and null."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_like(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_json_like(item) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


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
    return _json_object(value, what="A lead")


def _json_object(value: Any, *, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = "null" if value is None else _JSON_TYPE_NAMES.get(type(value), "not an object")
        raise ParseError(f"{what} must be a JSON object, not {kind}")
    if _depth(value) > MAX_DEPTH:
        raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep")
    return value
