"""Request bodies sent with a Content-Encoding: the one way a gzip or deflate body is inflated.

Used on the way in (leads.intake.parsing) and when the ledger's kept bodies are searched for a buyer's phone
(leads.ops.privacy), so both read a body alike.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

# zlib's window bits to try for each Content-Encoding, in order. 32 + 15 reads a gzip or a zlib header (gzip
# sent as deflate, as some clients do). deflate means zlib-wrapped (RFC 9110), but some clients send a bare
# deflate stream: -15 reads that. A gzip body never is one.
_WINDOW_BITS = {
    "gzip": (32 + zlib.MAX_WBITS,),
    "x-gzip": (32 + zlib.MAX_WBITS,),
    "deflate": (32 + zlib.MAX_WBITS, -zlib.MAX_WBITS),
}
CONTENT_ENCODINGS = tuple(_WINDOW_BITS)


class NotInflatable(ValueError):
    """The body is not data of its Content-Encoding."""


@dataclass(frozen=True)
class Inflated:
    data: bytes  # at most the limit asked for
    over_limit: bool  # it inflates to more than that (a zip bomb, say)
    complete: bool  # the stream came to its end (a body cut short inflates as far as it goes)


def inflate(body: bytes, *, content_encoding: str, limit: int) -> Inflated:
    """``body`` with its ``content_encoding`` (one of CONTENT_ENCODINGS, in any case) undone, up to ``limit``
    bytes. Raises NotInflatable when it is not such data."""
    for window_bits in _WINDOW_BITS[content_encoding.strip().lower()]:
        decoder = zlib.decompressobj(window_bits)
        try:
            data = decoder.decompress(body, limit + 1)
        except zlib.error:
            continue
        over = len(data) > limit or bool(decoder.unconsumed_tail)
        return Inflated(data=data[:limit], over_limit=over, complete=decoder.eof)
    raise NotInflatable(f"not valid {content_encoding.strip().lower()} data")
