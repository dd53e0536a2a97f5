"""Where lead records come from: a CSV byte stream or the first sheet of an XLSX workbook, each with a way to
tell how far the reading has got (bytes of the CSV, rows of the sheet) for a progress bar or an import job.

XLSX is read with openpyxl in read-only mode, which parses the sheet's XML as it is iterated instead of
building the whole workbook in memory. Cells become the text a CSV export of the sheet would hold: a whole
number stored as a float (Excel keeps 40712345678 as 40712345678.0) loses its `.0`, dates become ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from duplex.api.lead_csv import CsvFileError, Record, csv_records

__all__ = ["LeadSource", "XLSX_MAGIC", "csv_source", "open_source", "xlsx_source"]

XLSX_MAGIC = b"PK\x03\x04"  # a ZIP archive, which an XLSX workbook is


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadSource:
    """`records` to hand to read_leads; `done()` how many `unit`s of `total` have been read so far."""

    records: Iterator[Record]
    done: Callable[[], int]
    total: int
    unit: str  # "bytes" or "rows"


def _size(stream: IO[bytes]) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):  # BytesIO and spooled uploads have no descriptor
        position = stream.tell()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(position)
        return size


def csv_source(stream: IO[bytes]) -> LeadSource:
    """The CSV in `stream` from its current position; progress is the stream's position in bytes (read ahead
    by at most one 8 KB chunk of the text decoder)."""
    total = _size(stream)

    def done() -> int:
        try:
            return stream.tell()
        except ValueError:  # closed with the text decoder once the last record was read
            return total

    return LeadSource(records=csv_records(stream), done=done, total=total, unit="bytes")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _trimmed(cells: list[str], width: int) -> list[str]:
    """Row cells without the empty cells past the header's width; short rows padded with empty cells
    (a sheet does not store trailing empty cells, a CSV writes them)."""
    end = len(cells)
    while end > width and not cells[end - 1]:
        end -= 1
    return cells[:end] + [""] * (width - end)


def xlsx_source(stream: IO[bytes]) -> LeadSource:
    """The first worksheet of the XLSX workbook in `stream`; record numbers are the sheet's row numbers."""
    import openpyxl  # only XLSX imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CsvFileError(f"not a readable XLSX workbook: {exc}") from exc
    sheet = workbook.worksheets[0]
    state = {"row": 0}

    def records() -> Iterator[Record]:
        width = 0
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                state["row"] = number
                cells = [_cell(v) for v in row]
                if not any(c.strip() for c in cells):
                    continue
                if not width:
                    width = len(_trimmed(cells, 0))
                yield number, _trimmed(cells, width), None
        finally:
            workbook.close()

    return LeadSource(records=records(), done=lambda: state["row"], total=sheet.max_row or 0, unit="rows")


def open_source(stream: IO[bytes], *, filename: str = "") -> LeadSource:
    """A CSV or XLSX source, told apart by the file's first bytes (then by its name)."""
    head = stream.read(len(XLSX_MAGIC))
    stream.seek(-len(head), os.SEEK_CUR)
    if head == XLSX_MAGIC or filename.lower().endswith(".xlsx"):
        return xlsx_source(stream)
    return csv_source(stream)
