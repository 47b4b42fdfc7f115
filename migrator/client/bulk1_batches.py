"""Cutting a CSV file into Bulk API 1.0 batches, and packing binary-attachment (zip) batches.

A 1.0 batch holds at most 10,000 records and 10 MB, and each batch is a complete CSV: the header,
then whole records. Records may span lines (quoted line breaks in text areas), so boundaries come
from the csv module, never from counting lines. The file is read once to plan the batches (byte
ranges) before any job exists: a malformed file fails with its line number and nothing is sent, which
matters because Bulk 1.0 processes a batch as soon as it arrives. Bodies are then read back range by
range, so memory stays at one batch whatever the file size.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from migrator.errors import InvalidRequestError, LimitExceededError

MAX_BATCH_RECORDS = 10_000
MAX_BATCH_BYTES = 10_000_000  # 10 MB, and also within the 10,000,000-character limit
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class BatchRange:
    """Records ``[start, end)`` of the file (byte offsets), `records` of them, `first_line` for messages."""

    start: int
    end: int
    records: int
    first_line: int


@dataclass(frozen=True)
class BatchPlan:
    path: Path
    header: bytes  # the header row as in the file (BOM removed), with its line ending
    line_ending: bytes
    batches: tuple[BatchRange, ...]

    @property
    def records(self) -> int:
        return sum(batch.records for batch in self.batches)

    def bodies(self) -> Iterator[bytes]:
        """Each batch as a complete CSV body: header + its records (a missing final newline added)."""
        with self.path.open("rb") as handle:
            for batch in self.batches:
                handle.seek(batch.start)
                records = handle.read(batch.end - batch.start)
                if not records.endswith(b"\n"):
                    records += self.line_ending
                yield self.header + records


def plan_csv_batches(path: Path, *, max_records: int = MAX_BATCH_RECORDS,
                     max_bytes: int = MAX_BATCH_BYTES) -> BatchPlan:
    """Read `path` once and decide the batches; raise InvalidRequestError naming file and line when
    the CSV is malformed (bad quoting, invalid UTF-8, a row whose value count differs from the header)."""
    if max_records < 1 or max_bytes < 1:
        raise ValueError("max_records and max_bytes must be positive")
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        return _plan(path, handle, max_records, max_bytes)


def _plan(path: Path, handle: BinaryIO, max_records: int, max_bytes: int) -> BatchPlan:
    consumed: list[bytes] = []  # the raw lines the csv reader pulled for the current record
    line_number = 0

    def lines() -> Iterator[str]:
        nonlocal line_number
        for raw in handle:
            line_number += 1
            consumed.append(raw)
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidRequestError(f"{path}, line {line_number}: not valid UTF-8 "
                                          f"(byte {exc.start + 1} of the line)") from None

    def take() -> tuple[bytes, int]:
        """(raw bytes, first line number) of the record the reader just returned."""
        raw, first = b"".join(consumed), line_number - len(consumed) + 1
        consumed.clear()
        return raw, first

    reader = csv.reader(lines(), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(header):
            raise InvalidRequestError(f"{path}: the file is empty (a header row is required)")
        header_bytes, _ = take()
        position = len(header_bytes)
        header_bytes = header_bytes.removeprefix(BOM)
        line_ending = b"\r\n" if header_bytes.endswith(b"\r\n") else b"\n"
        if not header_bytes.endswith(b"\n"):
            header_bytes += line_ending
        batches: list[BatchRange] = []
        start, count, first_line = position, 0, 0
        for record in reader:
            raw, line = take()
            size = len(raw) if raw.endswith(b"\n") else len(raw) + len(line_ending)
            if count and (not record or count >= max_records
                          or len(header_bytes) + (position - start) + size > max_bytes):
                batches.append(BatchRange(start, position, count, first_line))
                count = 0
            position += size
            if not record:  # a blank line is no record: leave it out of every batch
                continue
            if len(record) != len(header):
                raise InvalidRequestError(f"{path}, line {line}: {len(record)} values but the header has "
                                          f"{len(header)} columns")
            if len(header_bytes) + size > max_bytes:
                raise LimitExceededError(f"{path}, line {line}: a record of {size:,} bytes does not fit in a "
                                         f"Bulk API 1.0 batch of {max_bytes:,} bytes")
            if count == 0:
                start, first_line = position - size, line
            count += 1
        if count:
            batches.append(BatchRange(start, position, count, first_line))
    except csv.Error as exc:  # name the line where the bad record starts (an open quote runs on)
        raise InvalidRequestError(f"{path}, line {line_number - len(consumed) + 1}: malformed CSV ({exc})"
                                  ) from None
    return BatchPlan(path, header_bytes, line_ending, tuple(batches))


def zip_batch(request: bytes, files: Mapping[str, bytes | Path], *, manifest_name: str = "request.txt") -> bytes:
    """A binary-attachment batch: ``request.txt`` (the CSV/XML/JSON manifest, whose ``Body`` values are
    ``#path``) at the zip root, plus each file under its relative path. Sent with ZIP_* jobs."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(manifest_name, request)
        for name, content in files.items():
            clean = name.lstrip("#/")
            if not clean or ".." in Path(clean).parts:
                raise InvalidRequestError(f"attachment path {name!r} must be relative, inside the zip")
            if isinstance(content, Path):
                archive.write(content, clean)
            else:
                archive.writestr(clean, content)
    return buffer.getvalue()


# --- binary attachments: rows with `#path` references, packed into ZIP batches -------------------------

MAX_ZIP_BYTES = 10_000_000  # a ZIP batch (reference §3.4)
MAX_ZIP_FILE_BYTES = 9_500_000  # file bytes per batch: room for request.txt and the zip's own headers
MAX_ZIP_FILES = 999  # files per batch, request.txt aside (reference §3.4: 1,000 entries, unconfirmed)


@dataclass(frozen=True)
class ZipBatchPlan:
    """Rows of one ZIP batch and the files they name (reference -> path on disk)."""

    records: tuple[tuple[str, ...], ...]
    files: Mapping[str, Path]
    bytes: int


def plan_zip_batches(path: Path, binary_fields: tuple[str, ...], files_dir: Path, *,
                     max_bytes: int = MAX_ZIP_FILE_BYTES, max_files: int = MAX_ZIP_FILES
                     ) -> tuple[list[str], list[ZipBatchPlan]]:
    """(header, batches) of a CSV part whose `binary_fields` hold `#path` references to files of
    `files_dir`: each batch at most `max_files` files and `max_bytes` of them. A file that alone is
    bigger than a batch raises LimitExceededError (the planner sends those through REST)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r]
    if not rows:
        raise InvalidRequestError(f"{path}: the file is empty (a header row is required)")
    header, records = rows[0], rows[1:]
    positions = [header.index(name) for name in binary_fields if name in header]
    batches: list[ZipBatchPlan] = []
    current: list[tuple[str, ...]] = []
    files: dict[str, Path] = {}
    size = 0
    for line, record in enumerate(records, start=2):
        wanted = {record[p][1:]: files_dir / record[p][1:] for p in positions if record[p].startswith("#")}
        new = {ref: file for ref, file in wanted.items() if ref not in files}
        try:
            extra = sum(file.stat().st_size for file in new.values())
        except OSError as exc:
            raise InvalidRequestError(f"{path}, line {line}: a file it names cannot be read: "
                                      f"{exc.strerror or exc}") from None
        if extra > max_bytes:
            raise LimitExceededError(f"{path}, line {line}: {extra:,} bytes of files do not fit in a ZIP batch of "
                                     f"{max_bytes:,}")
        if current and (size + extra > max_bytes or len(files) + len(new) > max_files):
            batches.append(ZipBatchPlan(tuple(current), dict(files), size))
            current, files, size = [], {}, 0
            new, extra = wanted, sum(file.stat().st_size for file in wanted.values())
        current.append(tuple(record))
        files.update(new)
        size += extra
    if current:
        batches.append(ZipBatchPlan(tuple(current), dict(files), size))
    return header, batches


def zip_request(header: list[str], batch: ZipBatchPlan) -> bytes:
    """The ZIP batch's bytes: request.txt (the batch's rows as CSV) and the files it names."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(batch.records)
    return zip_batch(text.getvalue().encode("utf-8"), batch.files)
