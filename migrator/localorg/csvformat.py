"""Bulk API CSV in and out: the job's delimiter and line ending, all-quoted output, strict input.

Parsing uses pyarrow's multithreaded C++ reader with every column read as text (``"001"`` must stay
``"001"``); the header row is parsed separately so it can be echoed verbatim in result files, as
Salesforce does. Anything structurally wrong (bad line ending, unbalanced quotes, a row with the
wrong number of values, invalid UTF-8) raises CsvInputError with the text Salesforce puts in the
job's ``errorMessage``; nothing is processed in that case.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

DELIMITERS = {"BACKQUOTE": "`", "CARET": "^", "COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "TAB": "\t"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
BOM = b"\xef\xbb\xbf"


class CsvInputError(Exception):
    """The upload cannot be read; `message` is the job's errorMessage (``ClientInputError : ...``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ParsedCsv:
    header_line: str  # the header row exactly as uploaded (no BOM, no line ending)
    headers: list[str]  # the header row parsed into names
    table: pa.Table  # one text column per header (named c0, c1, ...), no nulls

    @property
    def row_count(self) -> int:
        return self.table.num_rows

    def column(self, index: int) -> pa.Array:
        return self.table.column(index).combine_chunks()

    def rows(self, start: int, stop: int) -> ParsedCsv:
        return ParsedCsv(self.header_line, self.headers, self.table.slice(start, stop - start))


def check_line_ending(data: bytes, line_ending: str) -> None:
    """Salesforce checks the first line break against the job's lineEnding setting."""
    first = data.find(b"\n")
    if first < 0:
        return
    is_crlf = first > 0 and data[first - 1:first] == b"\r"
    if is_crlf != (line_ending == "CRLF"):
        raise CsvInputError(f"ClientInputError : LineEnding is invalid on user data. "
                            f"Current LineEnding setting is {line_ending}")


def parse_csv(data: bytes, column_delimiter: str = "COMMA", line_ending: str = "LF") -> ParsedCsv:
    """Parse an upload. An empty upload is a valid CSV with no columns and no rows."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    if not data.strip():
        return ParsedCsv("", [], pa.table({}))
    check_line_ending(data, line_ending)
    delimiter = DELIMITERS[column_delimiter]
    end = data.find(b"\n")
    header_bytes = data if end < 0 else data[:end]
    header_line = _decode(header_bytes.removesuffix(b"\r"))
    headers = _header_names(header_line, delimiter)
    names = [f"c{i}" for i in range(len(headers))]
    body = b"" if end < 0 else data[end + 1:]
    if not body.strip(b"\r\n"):
        return ParsedCsv(header_line, headers, pa.table({n: pa.array([], pa.string()) for n in names}))
    _check_utf8(body)
    bad_rows: list[tuple[int | None, int]] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append((row.number, row.actual_columns))
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=use_threads,
                                           block_size=max(1 << 20, min(len(body), 64 << 20))),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=True,
                                             ignore_empty_lines=True, invalid_row_handler=on_invalid_row),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    try:
        table = read(use_threads=True)
        if bad_rows:  # parse again on one thread: only then does pyarrow know the row numbers
            bad_rows.clear()
            read(use_threads=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CsvInputError(f"ClientInputError : {_arrow_reason(str(exc))}") from None
    if bad_rows:
        number, found = bad_rows[0]
        where = f"line {number + 1}" if number is not None else "a row"  # +1: the header is line 1
        raise CsvInputError(f"ClientInputError : {where} has {found} values but the header has "
                            f"{len(headers)} columns ({len(bad_rows)} such row(s))")
    return ParsedCsv(header_line, headers, table)


def _header_names(header_line: str, delimiter: str) -> list[str]:
    """The header row's names, read strictly: a stray carriage return or an unclosed quote in the
    header is the client's error, never a server failure (csv.Error would escape as a 500)."""
    try:
        return next(csv.reader(io.StringIO(header_line), delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        text = str(exc)
        reason = ("a carriage return inside an unquoted name" if "new-line character" in text
                  else "a quote is not closed" if "end of data" in text else text)
        raise CsvInputError(f"ClientInputError : the header row cannot be read: {reason}") from None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CsvInputError("ClientInputError : the data is not valid UTF-8") from None


def _check_utf8(data: bytes, chunk: int = 8 << 20) -> None:
    """Refuse bytes that are not UTF-8 before Arrow sees them.

    Arrow would reject them too, but a malformed row holding such bytes makes pyarrow fail inside
    its invalid-row callback, and Python prints that failure as a traceback on the server's console.
    ASCII (the usual upload) is recognised by one fast scan; the rest is decoded in chunks so no
    copy of a large upload is ever held.
    """
    if data.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), chunk):
            decoder.decode(view[start:start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise CsvInputError("ClientInputError : the data is not valid UTF-8") from None


def _arrow_reason(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "the data could not be parsed as CSV"
    if "UTF8" in first or "UTF-8" in first:
        return "the data is not valid UTF-8"
    return first


def quoted_rows(columns: Sequence[pa.Array | list[str]], column_delimiter: str, line_ending: str) -> bytes:
    """Rows with every value double-quoted, in the job's delimiter and line ending (no header)."""
    if not columns or len(columns[0]) == 0:
        return b""
    arrays = [c if isinstance(c, pa.Array) else pa.array(c, pa.string()) for c in columns]
    arrays = [a.fill_null("") if a.null_count else a for a in arrays]
    sink = io.BytesIO()
    pacsv.write_csv(pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))]), sink,
                    write_options=pacsv.WriteOptions(include_header=False, delimiter=DELIMITERS[column_delimiter],
                                                     eol=LINE_ENDINGS[line_ending], quoting_style="all_valid"))
    return sink.getvalue()


def line_block(lines: pa.Array, line_ending: str) -> tuple[memoryview, np.ndarray]:
    """Finished CSV lines (`CompiledQuery.iter_csv_lines`) as one block of bytes, each line ended
    with the job's line ending, and where each line ends in the block: both read straight from
    the Arrow buffers, with no Python work per row."""
    ended = pc.binary_join_element_wise(lines, "", LINE_ENDINGS[line_ending])
    width = np.int64 if pa.types.is_large_string(ended.type) else np.int32
    offsets = np.frombuffer(ended.buffers()[1], dtype=width, count=len(ended) + 1,
                            offset=ended.offset * np.dtype(width).itemsize).astype(np.int64)
    data = ended.buffers()[2]
    block = memoryview(data)[offsets[0]:offsets[-1]] if data is not None else memoryview(b"")
    return block, offsets[1:] - offsets[0]


def quote_all(values: Sequence[str], column_delimiter: str) -> str:
    """One all-quoted CSV line (no line ending), for header rows."""
    return DELIMITERS[column_delimiter].join('"' + v.replace('"', '""') + '"' for v in values)
