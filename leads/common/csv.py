"""CSV for Excel, the one writer every download uses: streamed line by line, Unicode-safe, never a formula."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

# Excel reads a UTF-8 file as the local code page unless it starts with a byte order mark.
UTF8_BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


class _Echo:
    """A file that hands back what is written to it, so each row becomes one line of text."""

    def write(self, value: str) -> str:
        return value


def excel_csv_lines(header: Sequence[object], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header and rows as CSV lines for Excel: a byte order mark first, and no cell a spreadsheet would run as
    a formula. ``rows`` is read as the lines are, so a long export streams in flat memory."""
    writer = csv.writer(_Echo())
    yield UTF8_BOM + writer.writerow([neutralise(str(cell)) for cell in header])
    for row in rows:
        yield writer.writerow([neutralise(str(cell)) for cell in row])
