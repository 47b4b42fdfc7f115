"""Excel workbooks (.xlsx) through openpyxl in read-only mode: one sheet, a header row, rows below.

`sheet:` names the worksheet (or gives its 1-based position; default the first) and `header_row:`
the row holding the column names (default 1): title rows above the table are common in files from
the business. Cells are read as values, never formulas (a formula's cached result is used). Rows
are referred to by sheet and the row number Excel shows: `sheet Accounts, row 17`. Blank rows are
skipped (and counted in the numbering).

Dates read as `YYYY-MM-DD` (with the time, ISO 8601, when it is not midnight), whole numbers
without a decimal point, booleans as true/false: the text a CSV export would hold.
"""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from migrator.compile.readers.base import InvalidRow, SourceChunk, SourceWarning, scan_chunks
from migrator.compile.readers.files import check_kind
from migrator.compile.readers.text import columns_frame, python_value_text
from migrator.errors import SourceDataError

_ROWS_PER_CHUNK = 20_000


def cell_text(value: object) -> object:
    """A cell's value as the reader's text wants it (midnight datetimes as dates)."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time(0) and value.tzinfo is None:
        return value.date()
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@dataclass
class ExcelReader:
    path: Path
    name: str
    sheet: str | None = None
    header_row: int = 1
    wanted: tuple[str, ...] = ()
    kind: str = "xlsx"

    def _workbook(self):  # type: ignore[no-untyped-def]
        check_kind(self.path, self.name, "xlsx")
        try:
            return load_workbook(self.path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise SourceDataError(f"is not a readable Excel workbook ({exc})", file=self.name) from None

    def _sheet(self, book):  # type: ignore[no-untyped-def]
        names = book.sheetnames
        if self.sheet is None:
            return book[names[0]]
        if self.sheet in names:
            return book[self.sheet]
        if self.sheet.isdigit() and 1 <= int(self.sheet) <= len(names):
            return book[names[int(self.sheet) - 1]]
        raise SourceDataError(f"has no sheet {self.sheet!r} (sheets: {', '.join(names)})", file=self.name)

    def _header(self, sheet) -> list[str]:  # type: ignore[no-untyped-def]
        row = next(sheet.iter_rows(min_row=self.header_row, max_row=self.header_row, values_only=True), None)
        cells = [python_value_text(cell_text(v)).strip() for v in (row or ())]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            raise SourceDataError(f"sheet {sheet.title!r} has no column names in row {self.header_row} "
                                  "(set header_row)", file=self.name)
        blank = [i + 1 for i, c in enumerate(cells) if not c]
        if blank:
            raise SourceDataError(f"sheet {sheet.title!r}, row {self.header_row}: column {blank[0]} has no name",
                                  file=self.name)
        doubled = sorted({c for c in cells if cells.count(c) > 1})
        if doubled:
            raise SourceDataError(f"sheet {sheet.title!r}: the header repeats column(s) {', '.join(doubled)}",
                                  file=self.name)
        return cells

    def columns(self) -> tuple[str, ...]:
        book = self._workbook()
        try:
            header = self._header(self._sheet(book))
        finally:
            book.close()
        missing = [c for c in self.wanted if c not in header]
        if missing:
            raise SourceDataError(f"has no column {missing[0]!r} (columns: {', '.join(header)})", file=self.name)
        return tuple(self.wanted) or tuple(header)

    def chunks(self) -> Iterator[SourceChunk]:
        book = self._workbook()
        try:
            sheet = self._sheet(book)
            header = self._header(sheet)
            names = list(self.wanted) or header
            positions = [header.index(n) for n in names]
            width = len(header)
            batch: list[tuple] = []
            numbers: list[int] = []
            invalid: list[InvalidRow] = []
            for number, row in enumerate(sheet.iter_rows(min_row=self.header_row + 1, values_only=True),
                                         start=self.header_row + 1):
                if all(v is None or v == "" for v in row):
                    continue
                extra = [v for v in row[width:] if v is not None and v != ""]
                if extra:
                    invalid.append(InvalidRow(self.name, number, ", ".join(map(str, row))[:200],
                                              f"{len(extra)} value(s) right of the last named column",
                                              line=f"sheet {sheet.title}, row {number}"))  # type: ignore[arg-type]
                    continue
                batch.append(row)
                numbers.append(number)
                if len(batch) >= _ROWS_PER_CHUNK:
                    yield self._chunk(batch, numbers, names, positions, sheet.title, invalid)
                    batch, numbers, invalid = [], [], []
            if batch or invalid:
                yield self._chunk(batch, numbers, names, positions, sheet.title, invalid)
        finally:
            book.close()

    def _chunk(self, batch: list[tuple], numbers: list[int], names: list[str], positions: list[int], title: str,
               invalid: list[InvalidRow]) -> SourceChunk:
        columns = {name: [cell_text(row[p]) if p < len(row) else None for row in batch]
                   for name, p in zip(names, positions, strict=True)}
        frame = columns_frame(columns, names, len(batch))
        refs = np.array([f"sheet {title}, row {n}" for n in numbers], dtype=object)
        return SourceChunk(frame, self.name, np.array(numbers, dtype=np.int64), refs, tuple(invalid))

    def scan(self) -> list[SourceWarning]:
        return scan_chunks(self)
