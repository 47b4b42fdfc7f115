"""Bulk 2.0 query results: rows snapshotted to a file at processing time, then served page by page.

The rows are written once, all values quoted, in the job's delimiter and line ending, with the byte
offset of every row kept beside them (a numpy array), so any page is one seek and one read however
large the result, and pages stay identical however often a client re-reads them. A locator is the
base64 of the next row number, like Salesforce's (``MTAwMDA`` is row 10000).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .csvformat import DELIMITERS, LINE_ENDINGS, quote_all, quoted_rows
from .jobs import Job, JobFiles

ROWS = "rows.csv"
OFFSETS = "offsets.npy"
CHUNK_ROWS = 10_000
READ_CHUNK = 1 << 20


class LocatorError(ValueError):
    pass


def encode_locator(row: int) -> str:
    return base64.b64encode(str(row).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
        row = int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise LocatorError(f"Invalid locator: {locator}") from None
    if row < 0:
        raise LocatorError(f"Invalid locator: {locator}")
    return row


def _row_lengths(arrays: Sequence[pa.Array], delimiter: str, eol: str) -> np.ndarray:
    """Byte length of each all-quoted CSV row, computed column-wise."""
    total = np.full(len(arrays[0]), len(delimiter.encode()) * (len(arrays) - 1) + len(eol), dtype=np.int64)
    for array in arrays:
        escaped = pc.replace_substring(array, '"', '""')
        total += pc.binary_length(escaped).to_numpy(zero_copy_only=False).astype(np.int64) + 2
    return total


class QueryResultWriter:
    def __init__(self, files: JobFiles, job: Job):
        self.files = files
        self.job = job
        self.path = files.path(job.id, ROWS)
        self._handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._offsets: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._end = 0
        self.rows = 0

    def add(self, rows: Iterable[tuple[str, ...]]) -> None:
        rows = list(rows)
        if not rows:
            return
        arrays = [pa.array([("" if v is None else str(v)) for v in column], pa.string())
                  for column in zip(*rows, strict=True)]
        self._write(arrays, len(rows))

    def _write(self, arrays: list[pa.Array], count: int) -> None:
        data = quoted_rows(arrays, self.job.column_delimiter, self.job.line_ending)
        lengths = _row_lengths(arrays, DELIMITERS[self.job.column_delimiter], LINE_ENDINGS[self.job.line_ending])
        if int(lengths.sum()) != len(data):  # pragma: no cover - quoting rules changed under us
            raise RuntimeError("query result row lengths do not add up")
        self._offsets.append(self._end + np.cumsum(lengths))
        self._end += len(data)
        self._handle.write(data)
        self.rows += count

    def add_columns(self, columns: Sequence[Sequence[str | None]]) -> None:
        """Rows given column by column (`CompiledQuery.iter_columns`): no Python work per cell."""
        if not columns or not len(columns[0]):
            return
        arrays = [pc.fill_null(pa.array(column, pa.string()), "") for column in columns]
        self._write(arrays, len(columns[0]))

    def close(self) -> None:
        self._handle.close()
        np.save(self.files.path(self.job.id, OFFSETS), np.concatenate(self._offsets))


@dataclass(frozen=True)
class ResultPage:
    header: bytes
    first_row: int
    row_count: int
    next_locator: str  # "null" on the last page
    byte_range: tuple[int, int]


def result_page(files: JobFiles, job: Job, columns: Sequence[str], start: int, max_rows: int) -> ResultPage:
    offsets = np.load(files.path(job.id, OFFSETS), mmap_mode="r")
    total = len(offsets) - 1
    if start > total:
        raise LocatorError(f"Invalid locator: {encode_locator(start)}")
    stop = min(total, start + max_rows)
    header = (quote_all(columns, job.column_delimiter) + LINE_ENDINGS[job.line_ending]).encode()
    return ResultPage(header, start, stop - start, encode_locator(stop) if stop < total else "null",
                      (int(offsets[start]), int(offsets[stop])))


def page_stream(files: JobFiles, job: Job, page: ResultPage) -> Iterator[bytes]:
    yield page.header
    begin, end = page.byte_range
    if end <= begin:
        return
    with open(files.path(job.id, ROWS), "rb") as handle:
        handle.seek(begin)
        remaining = end - begin
        while remaining > 0:
            chunk = handle.read(min(READ_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
