"""Reading source CSVs: streamed in blocks as all-text columns, every record located by its line.

Reads go through Arrow's C++ CSV engine: blocks of a few MB as all-text columns (no type
guessing: "00123" stays "00123", "NA" stays "NA"). Nothing is dropped without a word:

- a record with the wrong number of fields is reported (an `InvalidRow`, which the planner
  rejects) with the line it starts on;
- a record bigger than a block (a 4 MB description) is read by growing the block and carrying
  on where the reader stopped, instead of failing with Arrow's "straddles two block boundaries";
- a quote still open at the end of the file is an error naming the line it opened on, and a
  multi-line value that looks like swallowed records is a warning (see `linemap`).

Row references count physical lines, as an editor shows them (see `linemap`): the header is line 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from migrator.compile.linemap import (
    LineNumbers,
    RawLines,
    breaks_in,
    breaks_in_text,
    open_quote_line,
    scan_raw,
    swallowed_records,
)
from migrator.errors import SourceDataError

# Arrow reads ahead several blocks; 2 MB blocks keep that bounded memory small at no cost in speed.
DEFAULT_BLOCK_BYTES = 2 * 1024 * 1024
# A record must fit in one block; blocks grow up to this for records that do not (a field of
# Salesforce's 131,072-character limit is far below it, so such a record is still read and rejected).
MAX_BLOCK_BYTES = 1024 * 1024 * 1024
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


@dataclass(frozen=True)
class InvalidRow:
    """A record that could not be read as a row: `row` is its record number (the header is 1),
    `line` the line it starts on."""

    file: str
    row: int
    text: str
    reason: str
    line: int = 0


@dataclass(frozen=True)
class SourceWarning:
    """Something about a source that is probably a mistake but may be intended; rows still load."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class SourceChunk:
    """A block of source rows, all text. `rows` holds each row's record number (the header is 1),
    `lines` the line each starts on (they differ after multi-line values and blank lines)."""

    frame: pd.DataFrame
    file: str
    rows: np.ndarray
    lines: np.ndarray
    invalid: tuple[InvalidRow, ...] = ()
    warnings: tuple[SourceWarning, ...] = ()


def arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig") else encoding


def as_text_frame(batch: pa.RecordBatch | pa.Table) -> pd.DataFrame:
    frame = batch.to_pandas(types_mapper={pa.string(): TEXT, pa.large_string(): TEXT}.get)
    return frame.fillna("")


def read_header_record(path: Path, encoding: str, delimiter: str, display_name: str) -> list[str]:
    """The header: the first non-empty record, read with Python's csv module (BOM skipped)."""
    codec = "utf-8-sig" if arrow_encoding(encoding) == "utf8" else encoding
    try:
        with path.open("r", encoding=codec, newline="") as handle:
            first = next((record for record in csv.reader(handle, delimiter=delimiter) if record), None)
    except csv.Error as exc:
        raise SourceDataError(f"the header is not valid CSV ({exc})", file=display_name, row=1) from None
    except UnicodeDecodeError as exc:
        raise SourceDataError(arrow_message(exc), file=display_name) from None
    if not first:
        raise SourceDataError("the file is empty (a header row is required)", file=display_name, row=1)
    return first


def arrow_message(exc: BaseException) -> str:
    """Arrow's error in our words; never the text of a row (Arrow quotes rows in its messages)."""
    text = str(exc)
    if "invalid UTF8" in text or isinstance(exc, UnicodeDecodeError):
        return "cannot be decoded as the declared encoding; set source encoding (e.g. cp1252 or latin-1)"
    first = text.splitlines()[0] if text else type(exc).__name__
    parse_error = re.match(r"CSV parse error: [^:]*", first)
    return parse_error.group() if parse_error else first


class _ArrowInput(io.RawIOBase):
    """The source as UTF-8 bytes for Arrow, in reads that never end between a CR and its LF.

    Arrow's streaming reader drops the LF of a CRLF inside a quoted value when a block boundary
    falls between the two (pyarrow 26: `"a\r\nb"` comes back as `a\rb`), and it cuts blocks where
    reads end. Other encodings are transcoded here, with the same care, rather than by Arrow.
    """

    def __init__(self, path: Path, encoding: str):
        self._file = path.open("rb")
        self._decoder = None if arrow_encoding(encoding) == "utf8" else \
            codecs.getincrementaldecoder(encoding)("strict")
        self._carry = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raw = self._file.read(size if size and size > 0 else -1)
        data = raw if self._decoder is None else self._decoder.decode(raw, final=not raw).encode("utf-8")
        data, self._carry = self._carry + data, b""
        if raw and data.endswith(b"\r") and len(data) > 1:
            data, self._carry = data[:-1], b"\r"
        return data

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


class _Stream:
    """One source file read record by record, with record numbers and lines kept in step."""

    def __init__(self, path: Path, display_name: str, encoding: str, delimiter: str, block_bytes: int):
        self.path, self.name, self.encoding, self.delimiter = path, display_name, encoding, delimiter
        self.block_bytes = block_bytes
        self.header = read_header_record(path, encoding, delimiter, display_name)
        duplicates = sorted({c for c in self.header if self.header.count(c) > 1})
        if duplicates:
            raise SourceDataError(f"the header repeats column(s) {', '.join(duplicates)}", file=display_name, row=1)
        self.raw: RawLines = scan_raw(path, encoding)
        self.lines = LineNumbers(self.raw.empty_lines)
        self.header_line = int(self.lines.assign(np.array([sum(breaks_in_text(c) for c in self.header)]))[0])
        self.pending: list[pacsv.InvalidRow] = []
        self.column_breaks: list[np.ndarray] = []  # line breaks per column of the batch just located
        self.records = 0          # records read so far, rows and invalid ones
        self.number_shift = 0     # Arrow numbers rows after a restart counting skipped empty lines too
        self.last_line = self.header_line
        self.input: _ArrowInput | None = None

    def _on_invalid(self, row: pacsv.InvalidRow) -> str:
        self.pending.append(row)
        return "skip"

    def _open(self) -> pacsv.CSVStreamingReader:
        skip = self.records - 1 + self.lines.skipped_empty if self.records > 1 else 0
        self.number_shift = self.lines.skipped_empty if skip else 0
        if self.input is not None:
            self.input.close()
        self.input = _ArrowInput(self.path, self.encoding)
        return pacsv.open_csv(
            self.input,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=self.block_bytes, encoding="utf8",
                                           skip_rows_after_names=skip),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                             invalid_row_handler=self._on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in self.header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    def batches(self) -> Iterator[tuple[pa.RecordBatch | None, np.ndarray, np.ndarray, list[InvalidRow]]]:
        """(batch, record numbers, lines, invalid records) in file order; a last `None` batch
        carries the invalid records after the final row."""
        self.records = 1  # the header
        try:
            yield from self._batches(self._reopen())
        finally:
            if self.input is not None:
                self.input.close()

    def _batches(self, reader: pacsv.CSVStreamingReader
                 ) -> Iterator[tuple[pa.RecordBatch | None, np.ndarray, np.ndarray, list[InvalidRow]]]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc):
                    raise self._failure(exc) from exc
                self.block_bytes *= 4
                reader = self._reopen()
                continue
            except UnicodeDecodeError as exc:
                raise SourceDataError(arrow_message(exc), file=self.name) from exc
            yield (batch, *self._locate(batch, final=False))
        yield (None, *self._locate(None, final=True))

    def _failure(self, exc: BaseException) -> SourceDataError:
        """The error for a file Arrow cannot parse: an unclosed quote if that is the cause."""
        self.check_closed()
        return SourceDataError(arrow_message(exc), file=self.name)

    def _reopen(self) -> pacsv.CSVStreamingReader:
        while True:
            self.pending.clear()
            if self.block_bytes > MAX_BLOCK_BYTES:
                raise SourceDataError(f"a record starting after line {self.last_line} is longer than "
                                      f"{MAX_BLOCK_BYTES // 2**20} MB; split it", file=self.name)
            try:
                return self._open()
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc):
                    raise self._failure(exc) from exc
                self.block_bytes *= 4
            except (UnicodeDecodeError, LookupError, OSError) as exc:
                raise SourceDataError(arrow_message(exc), file=self.name) from exc

    def _locate(self, batch: pa.RecordBatch | None, final: bool
                ) -> tuple[np.ndarray, np.ndarray, list[InvalidRow]]:
        """Record numbers and lines of a batch's rows, and the invalid records before its last row
        (`final`: every invalid record left)."""
        count = batch.num_rows if batch is not None else 0
        first = self.records + 1
        reported = sorted((int(r.number) - self.number_shift, i) for i, r in enumerate(self.pending))
        skipped = np.array([n for n, _ in reported], dtype=np.int64)
        if skipped.size and skipped[-1] >= first:
            candidates = np.arange(first, first + count + skipped.size, dtype=np.int64)
            numbers = candidates[~np.isin(candidates, skipped)][:count]
        else:
            numbers = np.arange(first, first + count, dtype=np.int64)
        end = (int(numbers[-1]) if count else first - 1) if not final else None
        mine = [(n, self.pending[i]) for n, i in reported if end is None or n < end]
        self.pending = [self.pending[i] for n, i in reported if not (end is None or n < end)]
        self.column_breaks = [breaks_in(column) for column in batch.columns] if batch is not None else []
        row_breaks = np.sum(self.column_breaks, axis=0, dtype=np.int64) if self.column_breaks else \
            np.zeros(count, dtype=np.int64)
        order = np.concatenate([numbers, np.array([n for n, _ in mine], dtype=np.int64)])
        breaks = np.concatenate([row_breaks, np.array([breaks_in_text(r.text) for _, r in mine], dtype=np.int64)])
        sequence = np.argsort(order, kind="stable")
        lines = np.empty(len(order), dtype=np.int64)
        lines[sequence] = self.lines.assign(breaks[sequence])
        if len(order):
            self.records = max(self.records, int(order.max()))
            self.last_line = max(self.last_line, int(lines.max()))
        invalid = [self._invalid(n, r, int(line), int(b))
                   for (n, r), line, b in zip(mine, lines[count:], breaks[count:], strict=True)]
        return numbers, lines[:count], invalid

    def _invalid(self, number: int, row: pacsv.InvalidRow, line: int, breaks: int) -> InvalidRow:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        if breaks:
            reason += (f"; the record runs over lines {line}-{line + breaks}: a value may be missing its "
                       "closing quote")
        return InvalidRow(file=self.name, row=number, text=row.text, reason=reason, line=line)

    def warnings(self, batch: pa.RecordBatch, lines: np.ndarray) -> list[SourceWarning]:
        """Multi-line values of the batch just located holding a line with as many delimiters as a
        whole record."""
        found: list[SourceWarning] = []
        width = len(self.header)
        if width < 2 or batch.num_rows == 0:
            return found
        spanning = np.flatnonzero(np.sum(self.column_breaks, axis=0) > 0)
        for position in spanning.tolist():
            offset = 0
            for name, column, column_breaks in zip(batch.schema.names, batch.columns, self.column_breaks, strict=True):
                inside = int(column_breaks[position])
                inner = swallowed_records([column[position].as_py()], self.delimiter, width)[0] if inside else -1
                if inner > 0:
                    start = int(lines[position]) + offset
                    found.append(SourceWarning(
                        self.name, int(lines[position]), f"the quoted value of column {name!r} runs over lines "
                        f"{start}-{start + inside}, and its line {start + inner} holds as many delimiters as a "
                        "whole record: a stray quote may have merged the records after it into this value; "
                        "check the quoting"))
                    break
                offset += inside
        return found

    def check_closed(self) -> None:
        """A quote still open at the end of the file is an error: it swallowed every record after it."""
        opened = open_quote_line(self.path, self.encoding, self.delimiter, self.raw, self.last_line)
        if opened is not None:
            raise SourceDataError(f"unclosed quote: the quoted value opened on line {opened} is never closed, "
                                  "so everything after it up to the end of the file would be read as one value; "
                                  "close or remove the quote", file=self.name, row=opened)


def read_text_table(path: Path, header: list[str], *, delimiter: str = ",") -> pa.Table:
    """A whole (small) UTF-8 CSV as one Arrow table of text columns, whatever its field sizes."""
    block_bytes = DEFAULT_BLOCK_BYTES
    while True:
        with _ArrowInput(path, "utf-8") as source:
            try:
                return pacsv.read_csv(
                    source,
                    read_options=pacsv.ReadOptions(block_size=block_bytes),
                    parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                                         strings_can_be_null=False,
                                                         quoted_strings_can_be_null=False),
                )
            except pa.ArrowInvalid as exc:
                if "straddl" not in str(exc) or block_bytes >= MAX_BLOCK_BYTES:
                    raise SourceDataError(arrow_message(exc), file=str(path)) from exc
                block_bytes *= 4


def read_source(
    path: Path,
    display_name: str,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Iterator[SourceChunk]:
    """Stream a source CSV in chunks. Records with the wrong number of fields are reported, not
    dropped; a quote left open at the end of the file raises SourceDataError naming its line."""
    stream = _Stream(path, display_name, encoding, delimiter, block_bytes)
    empty = pd.DataFrame({c: pd.Series(dtype=TEXT) for c in stream.header})
    for batch, numbers, lines, invalid in stream.batches():
        if batch is None:
            stream.check_closed()
            if invalid:
                yield SourceChunk(empty, display_name, numbers, lines, tuple(invalid))
            return
        yield SourceChunk(as_text_frame(batch), display_name, numbers, lines, tuple(invalid),
                          tuple(stream.warnings(batch, lines)))


def scan_source(path: Path, display_name: str, *, encoding: str = "utf-8", delimiter: str = ","
                ) -> list[SourceWarning]:
    """Read a whole source without converting it (for `validate --sources`): raises what
    `read_source` would raise, and returns its warnings, invalid records among them."""
    stream = _Stream(path, display_name, encoding, delimiter, DEFAULT_BLOCK_BYTES)
    found: list[SourceWarning] = []
    for batch, _, lines, invalid in stream.batches():
        found += [SourceWarning(display_name, r.line, f"record {r.row} cannot be read ({r.reason}); "
                                "plan rejects it") for r in invalid]
        if batch is None:
            stream.check_closed()
        else:
            found += stream.warnings(batch, lines)
    return found

