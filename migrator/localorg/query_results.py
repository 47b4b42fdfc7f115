"""Bulk 2.0 query results: rows snapshotted to a file at processing time, then served page by page.

The rows are written once, all values quoted, in the job's delimiter and line ending, with the byte
offset of every row kept beside them (a numpy array), so any page is one seek and one read however
large the result, and pages stay identical however often a client re-reads them. A locator is the
base64 of the next row number, like Salesforce's (``MTAwMDA`` is row 10000).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .csvformat import LINE_ENDINGS, line_block, quote_all
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


class QueryResultWriter:
    def __init__(self, files: JobFiles, job: Job):
        self.files = files
        self.job = job
        self.path = files.path(job.id, ROWS)
        self._handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._offsets: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]
        self._end = 0
        self.rows = 0

    def add_lines(self, lines: pa.Array) -> None:
        """Rows given as finished CSV lines (`CompiledQuery.iter_csv_lines`)."""
        if not len(lines):
            return
        data, ends = line_block(lines, self.job.line_ending)
        self._offsets.append(self._end + ends)
        self._end += len(data)
        self._handle.write(data)
        self.rows += len(lines)

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
