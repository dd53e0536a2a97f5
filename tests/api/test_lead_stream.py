"""The streaming lead reader without a database: split input equals whole input, memory stays flat as the
file grows, XLSX reads like the CSV it would export to, column mapping, time zones from the number."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lead_import import MIXED

from duplex.api.lead_csv import CsvFileError, LeadRow, RowError, csv_records, parse_leads, read_leads
from duplex.api.lead_source import open_source


class Trickle(io.RawIOBase):
    """A byte stream that returns at most `step` bytes per read, as a slow socket or pipe would."""

    def __init__(self, data: bytes, step: int = 1) -> None:
        self.data, self.position, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece = self.data[self.position : self.position + min(self.step, len(buffer))]
        buffer[: len(piece)] = piece
        self.position += len(piece)
        return len(piece)


def results(stream: Any, **options: Any) -> list[LeadRow | list[RowError]]:
    return list(read_leads(csv_records(stream), **{"region": "RO", **options}).rows)


TRICKY = [
    MIXED,
    MIXED.replace(b"\n", b"\r\n"),
    MIXED.replace(b"\n", b"\r"),  # old Mac line ends
    '\ufeffPhone;First Name;Notes\r\n+40712345001;Ioana;"a;b\r\nc"\r\n'.encode(),
    b"phone,name\n+40712345001,\xc8\x98tefan\n+40712345002,\xc8\n",  # a two-byte character, then a broken one
    b'phone,note\n+40712345001,"unterminated\n+40712345002,x\n',
    b"phone\n",
]


@pytest.mark.parametrize("data", TRICKY, ids=range(len(TRICKY)))
@pytest.mark.parametrize("step", [1, 2, 7])
def test_split_input_reads_as_whole(data: bytes, step: int) -> None:
    whole = results(io.BytesIO(data))
    split = results(io.BufferedReader(Trickle(data, step), buffer_size=step))
    assert split == whole
    assert whole or data == b"phone\n"  # a header without rows
    if data == MIXED:  # the streaming reader agrees with the whole-file API path
        parsed = parse_leads(data, region="RO", max_rows=100)
        assert [r for r in whole if isinstance(r, LeadRow)] == parsed.rows
        assert [e for r in whole if isinstance(r, list) for e in r] == parsed.errors


class Pieces(io.RawIOBase):
    """A byte stream that returns the data in pieces of the given sizes (then whatever is left)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes = data, list(sizes)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(self.sizes.pop(0) if self.sizes else len(self.data), len(buffer))
        piece, self.data = self.data[:size], self.data[size:]
        buffer[: len(piece)] = piece
        return len(piece)


WHOLE = {i: results(io.BytesIO(data)) for i, data in enumerate(TRICKY)}


@settings(max_examples=60, deadline=None)
@given(index=st.sampled_from(range(len(TRICKY))), sizes=st.lists(st.integers(1, 40), max_size=60))
def test_any_split_reads_as_whole(index: int, sizes: list[int]) -> None:
    assert results(io.BufferedReader(Pieces(TRICKY[index], sizes), buffer_size=8)) == WHOLE[index]


def test_lines_and_zones_of_mixed_file() -> None:
    rows = [r for r in results(io.BytesIO(MIXED)) if isinstance(r, LeadRow)]
    assert [(r.line, r.phone, r.zone) for r in rows] == [
        (2, "+40712345001", None),  # the file's own timezone cell wins, no derived zone
        (6, "+40712345678", "Europe/Bucharest"),
        (7, "+40722000000", "Europe/Bucharest"),
        (9, "+40712345001", "Europe/Bucharest"),
        (12, "+40712345006", "Europe/Bucharest"),
    ]
    assert rows[0].values["timezone"] == "Europe/Bucharest"


class GeneratedCsv(io.RawIOBase):
    """`rows` lead rows made as they are read: the file never exists whole, in memory or on disk."""

    def __init__(self, rows: int) -> None:
        self.lines = self._lines(rows)
        self.pending = b""

    @staticmethod
    def _lines(rows: int) -> Iterator[bytes]:
        yield b"phone,first_name,interest\n"
        for i in range(rows):
            yield b"+4071%07d,Name %d,%s\n" % (i, i, b"solar" if i % 3 else b"wind")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self.pending) < len(buffer):
            line = next(self.lines, None)
            if line is None:
                break
            self.pending += line
        piece, self.pending = self.pending[: len(buffer)], self.pending[len(buffer) :]
        buffer[: len(piece)] = piece
        return len(piece)


def peak_while_reading(rows: int) -> tuple[int, int]:
    """(rows read, peak traced bytes) of streaming `rows` generated rows through the reader."""
    tracemalloc.start()
    try:
        stream = read_leads(csv_records(io.BufferedReader(GeneratedCsv(rows))), region=None)
        count = sum(1 for r in stream.rows if isinstance(r, LeadRow))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_file_grows() -> None:
    peak_while_reading(10)  # phonenumbers loads its metadata and zone tables once, on first use
    small_rows, small_peak = peak_while_reading(2_000)
    large_rows, large_peak = peak_while_reading(40_000)
    assert (small_rows, large_rows) == (2_000, 40_000)
    assert large_peak < 256 * 1024  # 40 000 rows (1.3 MB of CSV) in under 256 KB of Python objects
    assert large_peak < 1.5 * small_peak + 64 * 1024  # 20x the rows, not 20x the memory


def xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_reads_like_its_csv() -> None:
    data = xlsx([
        ["Phone", "First Name", "Priority", "Signed up", "Tier"],
        [40712345001, "Ana", 5, dt.date(2026, 3, 1), "gold"],  # a number cell, as Excel keeps phone columns
        [],  # an empty row is skipped, but keeps its number
        ["0712345002", "Bob", 2.0, None, None],  # 2.0: Excel stores every number as a float
        ["not-a-phone", "Bad", None, None, None],
    ])  # fmt: skip
    source = open_source(io.BytesIO(data), filename="leads.xlsx")
    got = list(read_leads(source.records, region="RO").rows)
    csv_data = b"Phone,First Name,Priority,Signed up,Tier\n+40712345001,Ana,5,2026-03-01T00:00:00,gold\n\n"
    csv_data += b"0712345002,Bob,2,,\nnot-a-phone,Bad,,,\n"
    assert got == results(io.BytesIO(csv_data))
    first = got[0]
    assert (
        isinstance(first, LeadRow)
        and first.line == 2
        and first.values == {"first_name": "Ana", "priority": 5}
    )
    assert first.custom == {"Signed up": "2026-03-01T00:00:00", "Tier": "gold"}
    assert isinstance(got[2], list) and got[2][0].row == 5 and got[2][0].field == "phone"
    assert (source.unit, source.total, source.done()) == ("rows", 5, 5)


def test_not_an_xlsx_is_a_file_error() -> None:
    with pytest.raises(CsvFileError, match="not a readable XLSX workbook"):
        open_source(io.BytesIO(b"PK\x03\x04 but no zip"), filename="x.xlsx")


def test_column_mapping() -> None:
    data = b"Mobile,Given,Interest,Notes,phone\n0712345001,Ana,solar,ignored,+40799999999\n"
    mapping = {"mobile": "phone", "GIVEN": "first_name", "Interest": "custom.interest", "notes": "-",
               "phone": "custom.old_phone"}  # fmt: skip
    (row,) = results(io.BytesIO(data), mapping=mapping)
    assert isinstance(row, LeadRow)
    assert (row.phone, row.values, row.custom) == (
        "+40712345001", {"first_name": "Ana"}, {"interest": "solar", "old_phone": "+40799999999"}
    )  # fmt: skip
    bad = [
        ({"Mobile": "phone_number"}, "is mapped to 'phone_number': use one of"),
        ({"Cell": "phone"}, "mapped column(s) not in the header row: cell"),
        ({"Given": "phone", "Mobile": "phone"}, "duplicate column(s) in the header row: phone"),
        ({"Mobile": "-", "phone": "-"}, "the header row has no 'phone' column"),
    ]
    for mapping, message in bad:
        with pytest.raises(CsvFileError) as caught:
            results(io.BytesIO(data), mapping=mapping)
        assert message in str(caught.value), mapping


ZONES = b"phone,timezone,postcode\n+61412345678,,\n+61412345679,Australia/Perth,6000\n+5511987654321,,\n"


@pytest.mark.parametrize(
    ("preferred", "mobile_zone"),
    [(None, None), ("Australia/Sydney", "Australia/Sydney"), ("Europe/Bucharest", None)],
)
def test_time_zone_from_the_number(preferred: str | None, mobile_zone: str | None) -> None:
    """An Australian mobile spans eight zones: it gets the preferred (campaign) zone only if that is one
    of them, else none (the dialer skips it: no_timezone); here it has no postcode (test_lead_zone). A Sao
    Paulo number has one zone; a timezone cell always wins."""
    rows = results(io.BytesIO(ZONES), preferred_zone=preferred)
    assert [(r.zone, r.values.get("timezone")) for r in rows if isinstance(r, LeadRow)] == [
        (mobile_zone, None),
        (None, "Australia/Perth"),
        ("America/Sao_Paulo", None),
    ]
