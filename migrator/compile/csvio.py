"""All file I/O of tables: streaming source reads, Bulk-valid part writes, small result tables.

Reads and writes go through Arrow's C++ CSV engine: reading a source streams blocks of a few MB
as all-text columns (no type guessing: "00123" stays "00123", "NA" stays "NA"), and writing
quotes every value, which is valid RFC 4180, what Salesforce itself writes in result files, and
safe for any content (commas, quotes, CR and LF inside values). Output is UTF-8 without BOM with
LF line ends, so identical input gives byte-identical parts.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from migrator.errors import SourceDataError

# Arrow reads ahead several blocks; 2 MB blocks keep that bounded memory small at no cost in speed.
DEFAULT_BLOCK_BYTES = 2 * 1024 * 1024
_STR = pd.StringDtype("pyarrow", na_value=np.nan)


@dataclass(frozen=True)
class InvalidRow:
    file: str
    row: int
    text: str
    reason: str


@dataclass(frozen=True)
class SourceChunk:
    """A block of source rows, all text; `rows` holds each row's number as a spreadsheet shows it."""

    frame: pd.DataFrame
    file: str
    rows: np.ndarray
    invalid: tuple[InvalidRow, ...] = ()


def _as_text_frame(batch: pa.RecordBatch) -> pd.DataFrame:
    frame = batch.to_pandas(types_mapper={pa.string(): _STR, pa.large_string(): _STR}.get)
    return frame.fillna("")


def read_source(
    path: Path,
    display_name: str,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    columns: Sequence[str] | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[SourceChunk]:
    """Stream a source CSV in chunks. Rows with the wrong number of fields are reported, not dropped.

    `columns` limits what is converted (others are skipped at parse time); all are read by default.
    Row numbers count the header as row 1, as a spreadsheet does.
    """
    invalid: list[InvalidRow] = []
    header: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        expected, actual = row.expected_columns, row.actual_columns
        invalid.append(
            InvalidRow(
                file=display_name,
                row=int(row.number or 0),
                text=row.text,
                reason=f"expected {expected} fields, found {actual}",
            )
        )
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=block_bytes,
                encoding="utf8" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=_all_text(path, encoding, delimiter, header),
                include_columns=list(columns) if columns is not None else None,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, LookupError, OSError) as exc:
        raise SourceDataError(_arrow_message(exc), file=display_name) from exc
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise SourceDataError(
            f"the header repeats column(s) {', '.join(duplicates)}", file=display_name, row=1
        )
    next_row = 2
    reported = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise SourceDataError(_arrow_message(exc), file=display_name) from exc
        skipped = {r.row for r in invalid}
        numbers, next_row = _number_rows(batch.num_rows, next_row, skipped)
        fresh = tuple(invalid[reported:])
        reported = len(invalid)
        yield SourceChunk(frame=_as_text_frame(batch), file=display_name, rows=numbers, invalid=fresh)
    if reported < len(invalid):
        yield SourceChunk(
            frame=pd.DataFrame({c: pd.Series(dtype=_STR) for c in columns or header}),
            file=display_name,
            rows=np.array([], dtype=np.int64),
            invalid=tuple(invalid[reported:]),
        )


def _number_rows(count: int, start: int, skipped: set[int]) -> tuple[np.ndarray, int]:
    """Spreadsheet row numbers for `count` valid rows, stepping over rows reported invalid."""
    if not skipped or max(skipped) < start:
        return np.arange(start, start + count, dtype=np.int64), start + count
    numbers = []
    row = start
    while len(numbers) < count:
        if row not in skipped:
            numbers.append(row)
        row += 1
    while row in skipped:
        row += 1
    return np.array(numbers, dtype=np.int64), row


def _all_text(path: Path, encoding: str, delimiter: str, header_out: list[str]) -> dict[str, pa.DataType]:
    """Read just the header so that every column can be declared text (no type inference)."""
    import csv

    codec = "utf-8-sig" if encoding.lower().replace("-", "") in ("utf8", "utf8sig") else encoding
    with path.open("r", encoding=codec, newline="") as handle:
        first = next(csv.reader(handle, delimiter=delimiter), None)
    if not first:
        raise SourceDataError("the file is empty (a header row is required)", file=str(path), row=1)
    header_out.extend(first)
    return {name: pa.string() for name in first}


def _arrow_message(exc: BaseException) -> str:
    text = str(exc)
    if "invalid UTF8" in text or isinstance(exc, UnicodeDecodeError):
        return f"cannot be decoded as the declared encoding ({text.splitlines()[0]}); set source encoding"
    return text.splitlines()[0] if text else type(exc).__name__


# --- writing -----------------------------------------------------------------------------------


def encode_rows(frame: pd.DataFrame) -> bytes:
    """CSV body (no header) for text columns: every value quoted, LF line ends."""
    if frame.empty:
        return b""
    table = pa.Table.from_pandas(frame.astype(_STR).fillna(""), preserve_index=False)
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def header_line(columns: Sequence[str]) -> bytes:
    """Header of API names. They never need quoting, and Salesforce echoes them verbatim."""
    return (",".join(_quote_if_needed(c) for c in columns) + "\n").encode("utf-8")


def _quote_if_needed(name: str) -> str:
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


@dataclass
class PartInfo:
    path: Path
    rows: int = 0
    bytes: int = 0
    sha256: str = ""
    _digest: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)


class PartWriter:
    """Writes a step's rows into part-0001.csv, part-0002.csv, ... split by row count and size.

    Beside each part, `part-NNNN.source.csv` lists the source file and row of every line, in the
    same order, so that results can be traced back to the source row that produced them.
    """

    def __init__(self, folder: Path, columns: Sequence[str], *, max_rows: int, max_bytes: int):
        self.folder, self.columns = folder, list(columns)
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.parts: list[PartInfo] = []
        self._current: PartInfo | None = None
        self._data = self._index = None

    def write(self, rows: pd.DataFrame, source_files: pd.Series, source_rows: pd.Series) -> None:
        rows = rows[self.columns]
        start = 0
        while start < len(rows):
            part = self._current or self._open()
            room = self.max_rows - part.rows
            piece = rows.iloc[start : start + room]
            data = encode_rows(piece)
            while part.bytes + len(data) > self.max_bytes and len(piece) > 1:
                piece = piece.iloc[: len(piece) // 2]
                data = encode_rows(piece)
            if part.bytes + len(data) > self.max_bytes and part.rows > 0:
                self._close()
                continue
            self._append(
                part,
                data,
                len(piece),
                source_files.iloc[start : start + len(piece)],
                source_rows.iloc[start : start + len(piece)],
            )
            start += len(piece)
            if part.rows >= self.max_rows:
                self._close()

    def _open(self) -> PartInfo:
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self.parts) + 1
        part = PartInfo(path=self.folder / f"part-{number:04d}.csv")
        head = header_line(self.columns)
        self._data = part.path.open("wb")
        self._index = (self.folder / f"part-{number:04d}.source.csv").open("wb")
        self._index.write(b"source_file,source_row\n")
        self._data.write(head)
        part._digest.update(head)
        part.bytes = len(head)
        self._current = part
        self.parts.append(part)
        return part

    def _append(self, part: PartInfo, data: bytes, count: int, files: pd.Series, rows: pd.Series) -> None:
        assert self._data is not None and self._index is not None
        self._data.write(data)
        part._digest.update(data)
        part.bytes += len(data)
        part.rows += count
        self._index.write(
            encode_rows(pd.DataFrame({"f": files.to_numpy(), "r": rows.astype(str).to_numpy()}))
        )

    def _close(self) -> None:
        if self._current is not None:
            assert self._data is not None and self._index is not None
            self._data.close()
            self._index.close()
            self._current.sha256 = self._current._digest.hexdigest()
            self._current = None

    def end_part(self) -> None:
        """Start a new part with the next row (lock-aware parts end where a parent's rows end)."""
        self._close()

    def close(self) -> list[PartInfo]:
        self._close()
        return self.parts


class TableAppender:
    """A CSV file written in pieces (rejects, missing parents, result files); header on first write."""

    def __init__(self, path: Path, columns: Sequence[str]):
        self.path, self.columns = path, list(columns)
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(header_line(self.columns))

    def append(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        with self.path.open("ab") as handle:
            handle.write(encode_rows(frame[self.columns]))
        self.rows += len(frame)


def write_table(path: Path, frame: pd.DataFrame) -> None:
    TableAppender(path, list(frame.columns)).append(frame)


def read_table(path: Path, *, delimiter: str = ",") -> pd.DataFrame:
    """A whole small CSV as text columns (result files, part files, source indexes).

    An empty file (a server's answer for a job that never received data) is an empty table.
    """
    if path.stat().st_size == 0:
        return pd.DataFrame()
    header: list[str] = []
    types = _all_text(path, "utf-8", delimiter, header)
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    return (
        _as_text_frame(table) if table.num_rows else pd.DataFrame({c: pd.Series(dtype=_STR) for c in header})
    )
