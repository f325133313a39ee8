"""Reading an uploaded file as rows of text: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX.

1. The format is the content's: an XLSX file is a ZIP archive (``PK\\x03\\x04``); anything else
   is read as CSV.
2. A CSV's encoding is detected, not asked for: the bytes are decoded as UTF-8 (a BOM is
   dropped) strictly, and on the first invalid byte as GB18030, the superset of GBK that
   Chinese Excel saves. The delimiter is a comma, or a tab or semicolon when the header line
   has more of those.
3. XLSX is read by openpyxl in read-only mode, one row at a time, from the first sheet; cell
   values become text (a whole number stays ``12``, a date ``2024-03-01``).
4. The first non-empty row is the header; every later row comes with its line number in the
   file (the header is line 1), and fully empty rows are skipped.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext as _

from highseas.engine.errors import ErrorCode, HighSeasError

XLSX_MAGIC = b"PK\x03\x04"
MAX_COLUMNS = 100


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (line, cells)


def unreadable(reason: str) -> HighSeasError:
    return HighSeasError(
        ErrorCode.VALIDATION_ERROR,
        _("The file cannot be read: %(reason)s") % {"reason": reason},
        errors={"file": [reason]},
    )


CHUNK = 1 << 20


def _decodes_as(content: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        for start in range(0, len(content), CHUNK):
            decoder.decode(content[start : start + CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def encoding_of(content: bytes) -> str:
    """Step 2: UTF-8 (with or without BOM), else GB18030; checked chunk by chunk, so the
    text is never held whole."""
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes_as(content, encoding):
            return encoding
    raise unreadable(_("neither UTF-8 nor GBK text"))


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    encoding = encoding_of(content)
    first_line = content[:4096].decode(encoding, errors="ignore").split("\n", 1)[0]
    text = io.TextIOWrapper(io.BytesIO(content), encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=_delimiter(first_line))
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as error:
        raise unreadable(str(error)) from None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # a large library

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken archive
        raise unreadable(type(error).__name__) from None
    try:
        sheet = book.worksheets[0]
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell_text(v) for v in values[:MAX_COLUMNS]]
    finally:
        book.close()


def raw_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    if content.startswith(XLSX_MAGIC):
        return _xlsx_rows(content)
    return _csv_rows(content)


def read_table(content: bytes) -> Table:
    """The header and the rows after it (steps 1–4)."""
    rows = raw_rows(content)
    for _line, cells in rows:
        if any(c.strip() for c in cells):
            headers = [c.strip() for c in cells[:MAX_COLUMNS]]
            return Table(headers, _data_rows(rows, len(headers)))
    raise unreadable(_("the file has no header row"))


def _data_rows(
    rows: Iterator[tuple[int, list[str]]], width: int
) -> Iterator[tuple[int, list[str]]]:
    for line, cells in rows:
        if any(c.strip() for c in cells):
            yield line, [c.strip() for c in cells[:width]] + [""] * (width - len(cells))
