"""An export's rows as a file, written as they are read, with bounded memory.

- CSV: UTF-8 with a byte-order mark (so that Excel opens Chinese text), produced by a
  generator one chunk of rows at a time, for a streaming response or a file.
- XLSX: openpyxl in write-only mode, which writes each appended row out to its own temporary
  file; the workbook is saved into a temporary file that the caller streams back. A sheet holds
  at most ``SHEET_ROWS`` rows; a longer export continues on the next sheet.

Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is written
as text: a quote before it in CSV (except plain numbers such as ``+86 138…``), a string cell
in XLSX.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import IO, Any

from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]
from openpyxl.worksheet._write_only import (  # type: ignore[import-untyped]
    WriteOnlyWorksheet,
)

from highseas.customers.exports import CHUNK, Export, ExportFormat

Progress = Callable[[int, int], None]
BOM = "\ufeff"
SHEET_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+\-]?[\d\s().*\-]+$")
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def _batches(rows: Iterator[list[Any]]) -> Iterator[list[list[Any]]]:
    while batch := list(islice(rows, CHUNK)):
        yield batch


def csv_chunks(export: Export, *, progress: Progress | None = None) -> Iterator[bytes]:
    """The CSV file, a header and then one chunk of rows per item."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export.headers)
    try:
        yield (BOM + buffer.getvalue()).encode("utf-8")
        for batch in _batches(export.rows):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows([_csv_cell(value) for value in row] for row in batch)
            yield buffer.getvalue().encode("utf-8")
            if progress is not None:
                progress(export.written, export.count)
    finally:  # a download left half way closes its cursor with the response
        export.close()


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if value.startswith("="):
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value
    if isinstance(value, str | int | float | Decimal | date) or value is None:
        return value
    return str(value)


def write_xlsx(export: Export, target: IO[bytes], *, progress: Progress | None = None) -> None:
    """Write the workbook into ``target`` (a binary file); the rows' cursor is closed after."""
    try:
        _write_xlsx(export, target, progress)
    finally:
        export.close()


def _write_xlsx(export: Export, target: IO[bytes], progress: Progress | None) -> None:
    book = Workbook(write_only=True)
    sheet, on_sheet, number = None, SHEET_ROWS, 0
    for batch in _batches(export.rows):
        for row in batch:
            if on_sheet == SHEET_ROWS:
                number += 1
                sheet = book.create_sheet(f"{export.kind.value}-{number}")
                sheet.append(export.headers)
                on_sheet = 0
            assert sheet is not None
            sheet.append([_xlsx_cell(sheet, value) for value in row])
            on_sheet += 1
        if progress is not None:
            progress(export.written, export.count)
    if sheet is None:
        book.create_sheet(f"{export.kind.value}-1").append(export.headers)
    book.save(target)


def xlsx_file(export: Export, *, progress: Progress | None = None) -> IO[bytes]:
    """The workbook in a temporary file, rewound; closing it deletes it."""
    target = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the caller closes it
    try:
        write_xlsx(export, target, progress=progress)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    return target


def http_response(export: Export) -> HttpResponseBase:
    """The export as a download: CSV streamed as it is written, XLSX from its temporary file
    (both with bounded memory)."""
    if export.file_format == ExportFormat.XLSX:
        return FileResponse(
            xlsx_file(export),
            as_attachment=True,
            filename=export.file_name,
            content_type=CONTENT_TYPES[ExportFormat.XLSX],
        )
    response = StreamingHttpResponse(
        csv_chunks(export), content_type=CONTENT_TYPES[ExportFormat.CSV]
    )
    response["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
    return response
