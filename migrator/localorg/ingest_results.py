"""The three result files of an ingest job, written batch by batch and served with their header.

Files hold data rows only; the header is built when a client asks, from the header row the job
uploaded (echoed verbatim, as Salesforce does) and the job's delimiter and line ending.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from .csvformat import DELIMITERS, LINE_ENDINGS, ParsedCsv, quoted_rows
from .jobs import Job, JobFiles

UPLOAD = "upload.csv"
RESULT_FILES = {"successfulresults": "success.csv", "failedresults": "failed.csv",
                "unprocessedrecords": "unprocessed.csv"}
RAW_UNPROCESSED = "unprocessed-raw.csv"
CHUNK = 1 << 20


class IngestResultWriter:
    def __init__(self, files: JobFiles, job: Job):
        self.files = files
        self.job = job

    def _append(self, kind: str, data: bytes) -> None:
        if data:
            with open(self.files.path(self.job.id, RESULT_FILES[kind]), "ab") as handle:
                handle.write(data)

    def add(self, rows: ParsedCsv, ids: np.ndarray, created: np.ndarray, errors: np.ndarray) -> None:
        """One processed batch: its rows go to the successful or the failed file."""
        ok = np.equal(errors, None)
        originals = [rows.column(i) for i in range(len(rows.headers))]
        for kind, mask, second in (("successfulresults", ok, np.where(created, "true", "false")),
                                   ("failedresults", ~ok, errors)):
            if not mask.any():
                continue
            if mask.all():
                picked = [pa.array(ids.tolist(), pa.string()), pa.array(second.tolist(), pa.string()), *originals]
            else:
                index = np.flatnonzero(mask)
                take = pa.array(index, pa.int64())
                picked = [pa.array(ids[index].tolist(), pa.string()), pa.array(second[index].tolist(), pa.string()),
                          *(column.take(take) for column in originals)]
            self._append(kind, quoted_rows(picked, self.job.column_delimiter, self.job.line_ending))

    def unprocessed(self, rows: ParsedCsv) -> None:
        """Rows never attempted (job failed or aborted part way)."""
        if rows.row_count:
            columns = [rows.column(i) for i in range(len(rows.headers))]
            self._append("unprocessedrecords", quoted_rows(columns, self.job.column_delimiter,
                                                           self.job.line_ending))

    def unprocessed_raw(self, data: bytes) -> None:
        """An upload that could not even be parsed goes back exactly as it came (header included)."""
        self.files.path(self.job.id, RAW_UNPROCESSED).write_bytes(data)


def result_header(job: Job, kind: str) -> bytes:
    delimiter, eol = DELIMITERS[job.column_delimiter], LINE_ENDINGS[job.line_ending]
    original = job.header_line or ""
    if kind == "unprocessedrecords":
        return (original + eol).encode() if original else b""
    second = "sf__Created" if kind == "successfulresults" else "sf__Error"
    line = f'"sf__Id"{delimiter}"{second}"' + (delimiter + original if original else "")
    return (line + eol).encode()


def result_stream(files: JobFiles, job: Job, kind: str) -> Iterator[bytes]:
    """Header plus the rows written so far (empty results are the header alone)."""
    path: Path = files.root / job.id / RESULT_FILES[kind]
    raw = files.root / job.id / RAW_UNPROCESSED
    if kind == "unprocessedrecords" and raw.exists():
        path = raw
    else:
        yield result_header(job, kind)
    if path.exists():
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
