"""Bulk API 1.0 results turned into Bulk API 2.0 result files, and query result sets joined into one CSV.

Bulk 1.0 returns one result per request row, **in request order** (the documented contract), but
no copy of the row. So each batch's request CSV (``/batch/{id}/request``) is paired with its result
by position, and the pairs are written exactly as Bulk 2.0 would serve them: ``"sf__Id","sf__Created"``
or ``"sf__Id","sf__Error"`` followed by the original header verbatim, every value quoted, LF line
ends. Rows beyond the last result (a batch that failed part way, or never ran) go to the unprocessed
file. Columns are handled whole with pyarrow; no per-row Python.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from migrator.client.bulk1_xml import is_json_answer, parse_json, result_rows_from_json, result_rows_from_xml
from migrator.errors import InvalidRequestError

BOM = b"\xef\xbb\xbf"
NO_RECORDS = b"Records not found for this query"
RESULT_COLUMNS = ("Id", "Success", "Created", "Error")


@dataclass(frozen=True)
class RequestCsv:
    """A batch's request CSV: the header row verbatim (no line ending) and one text column per field."""

    header_line: str
    columns: list[pa.Array]
    rows: int


@dataclass(frozen=True)
class BatchResults:
    """Per-row results of one ingest batch, in request order."""

    ids: pa.Array
    success: pa.Array  # bool
    created: pa.Array  # "true" / "false"
    errors: pa.Array  # ``CODE:message:fields --`` or ""

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class BatchSplit:
    """One batch in Bulk 2.0 layout: data rows (no header) of each result file."""

    header_line: str
    success: bytes
    failed: bytes
    unprocessed: bytes


def _read_text_table(data: bytes, names: list[str]) -> pa.Table:
    if not data.strip(b"\r\n"):
        return pa.table({name: pa.array([], pa.string()) for name in names})
    try:
        return pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable CSV"
        raise InvalidRequestError(f"cannot read a Bulk API 1.0 CSV: {first}") from None


def _split_header(data: bytes) -> tuple[str, list[str], bytes]:
    """(header line verbatim, header names, the rest). Header names never contain line breaks."""
    data = data.removeprefix(BOM)
    end = data.find(b"\n")
    header = data if end < 0 else data[:end]
    try:
        line = header.removesuffix(b"\r").decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("a Bulk API 1.0 CSV header row is not valid UTF-8") from None
    names = next(csv.reader(io.StringIO(line)), [])
    return line, names, b"" if end < 0 else data[end + 1:]


def parse_request_csv(data: bytes) -> RequestCsv:
    line, names, body = _split_header(data)
    if not names:
        raise InvalidRequestError("a batch request CSV has no header row")
    table = _read_text_table(body, [f"c{i}" for i in range(len(names))])
    return RequestCsv(line, [table.column(i).combine_chunks() for i in range(len(names))], table.num_rows)


def parse_csv_results(data: bytes) -> BatchResults:
    """``"Id","Success","Created","Error"`` (by name, case-insensitively; positionally if unnamed)."""
    _, names, body = _split_header(data)
    table = _read_text_table(body, [f"c{i}" for i in range(len(names))])
    lowered = [name.strip().lower() for name in names]
    if all(name.lower() in lowered for name in RESULT_COLUMNS[:3]):
        index = {name: lowered.index(name.lower()) if name.lower() in lowered else len(names)
                 for name in RESULT_COLUMNS}
    elif len(names) >= 3:  # heroku salesforce-bulk reads them positionally; so can we
        index = {name: position for position, name in enumerate(RESULT_COLUMNS)}
    else:
        raise InvalidRequestError(f"batch result CSV has columns {names}, expected {list(RESULT_COLUMNS)}")

    def column(name: str) -> pa.Array:
        position = index[name]
        if position >= table.num_columns:
            return pa.array([""] * table.num_rows, pa.string())
        return table.column(position).combine_chunks()

    return BatchResults(ids=column("Id"), success=pc.equal(pc.utf8_lower(column("Success")), "true"),
                        created=pc.utf8_lower(column("Created")), errors=column("Error"))


def _from_rows(rows: list[tuple[str, bool, bool, str]]) -> BatchResults:
    ids, success, created, errors = zip(*rows, strict=True) if rows else ((), (), (), ())
    return BatchResults(ids=pa.array(ids, pa.string()), success=pa.array(success, pa.bool_()),
                        created=pa.array(["true" if c else "false" for c in created], pa.string()),
                        errors=pa.array(errors, pa.string()))


def parse_batch_results(body: bytes, content_type: str) -> BatchResults:
    """An ingest batch result in any of its three formats (CSV jobs answer ``text/csv``)."""
    lowered = content_type.lower()
    if "csv" in lowered:
        return parse_csv_results(body)
    if is_json_answer(content_type, body):
        return _from_rows(result_rows_from_json(parse_json(body)))
    if "xml" in lowered or body.lstrip()[:1] == b"<":
        return _from_rows(result_rows_from_xml(body))
    return parse_csv_results(body)


def quoted_rows(columns: list[pa.Array]) -> bytes:
    """Rows with every value double-quoted and LF line ends, as Bulk 2.0 result files have them."""
    if not columns or len(columns[0]) == 0:
        return b""
    sink = io.BytesIO()
    table = pa.table([c.fill_null("") if c.null_count else c for c in columns],
                     names=[f"c{i}" for i in range(len(columns))])
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return sink.getvalue()


def split_batch(request: RequestCsv, results: BatchResults | None) -> BatchSplit:
    """Pair request rows with results by position; rows without a result are unprocessed."""
    answered = 0 if results is None else len(results)
    if answered > request.rows:
        raise InvalidRequestError(f"the batch has {answered} results for {request.rows} request rows; "
                                  "cannot pair them")
    if results is None or answered == 0:
        return BatchSplit(request.header_line, b"", b"", quoted_rows(request.columns))
    attempted = [column.slice(0, answered) for column in request.columns]
    rest = [column.slice(answered) for column in request.columns]
    ok = results.success.fill_null(False)
    bad = pc.invert(ok)
    success = quoted_rows([results.ids.filter(ok), results.created.filter(ok),
                           *(column.filter(ok) for column in attempted)])
    failed = quoted_rows([results.ids.filter(bad), results.errors.filter(bad),
                          *(column.filter(bad) for column in attempted)])
    return BatchSplit(request.header_line, success, failed, quoted_rows(rest))


def result_headers(header_line: str) -> tuple[bytes, bytes, bytes]:
    """Header rows of the success, failure and unprocessed files, exactly as Bulk 2.0 writes them."""
    tail = "," + header_line if header_line else ""
    return ((f'"sf__Id","sf__Created"{tail}\n').encode(), (f'"sf__Id","sf__Error"{tail}\n').encode(),
            (header_line + "\n").encode())


class Bulk2LayoutWriter:
    """Writes a job's three result files batch by batch (into ``.part`` files, renamed on `close`)."""

    def __init__(self, success: Path, failed: Path, unprocessed: Path):
        self.paths = (success, failed, unprocessed)
        self.header_line: str | None = None
        self.counts = [0, 0, 0]
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._handles: list[BinaryIO] = [self._partial(path).open("wb") for path in self.paths]

    @staticmethod
    def _partial(path: Path) -> Path:
        return path.with_name(path.name + ".part")

    def add(self, split: BatchSplit) -> None:
        if self.header_line is None:
            self.header_line = split.header_line
            for handle, header in zip(self._handles, result_headers(split.header_line), strict=True):
                handle.write(header)
        elif split.header_line != self.header_line:
            raise InvalidRequestError("the job's batches have different header rows "
                                      f"({self.header_line!r} and {split.header_line!r}); cannot write one "
                                      "set of result files")
        for position, data in enumerate((split.success, split.failed, split.unprocessed)):
            self._handles[position].write(data)
            self.counts[position] += count_records(data)

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        for path in self.paths:
            self._partial(path).replace(path)

    def discard(self) -> None:
        for handle in self._handles:
            handle.close()
        for path in self.paths:
            self._partial(path).unlink(missing_ok=True)


# --- counting and joining CSV ---------------------------------------------------------------------


class RecordCounter:
    """Counts CSV records in a byte stream fed in arbitrary chunks, honouring quoted line breaks.

    A line feed ends a record only outside quotes; in valid CSV every quoted field holds an even
    number of ``"`` characters, so the parity of the quotes seen so far says where we are. Vectorised
    with numpy, so counting a large download costs little next to writing it.
    """

    def __init__(self) -> None:
        self.records = 0
        self._in_quotes = False
        self._open_record = False  # bytes seen since the last record end

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        data = np.frombuffer(chunk, dtype=np.uint8)
        quotes = np.cumsum(data == ord('"'), dtype=np.int64)
        if self._in_quotes:
            quotes += 1
        ends = np.flatnonzero((data == ord("\n")) & (quotes % 2 == 0))
        if len(ends):
            # A line holding nothing (or just CR) is no record: count the non-CR bytes since the
            # previous record end; the first end continues an open record from the last chunk.
            solid = np.cumsum(data != ord("\r"), dtype=np.int64)
            before = np.concatenate(([0], solid[ends[:-1]]))
            empty = (solid[ends] - 1 - before) == 0
            if self._open_record:
                empty[0] = False
            self.records += int(len(ends) - np.count_nonzero(empty))
        self._in_quotes = bool(quotes[-1] % 2)
        tail = chunk[ends[-1] + 1:] if len(ends) else chunk
        self._open_record = bool(tail.strip(b"\r")) or (not len(ends) and self._open_record)

    def finish(self) -> int:
        """Records counted, the last one included even without a final line break."""
        return self.records + (1 if self._open_record else 0)


def count_records(data: bytes) -> int:
    counter = RecordCounter()
    counter.feed(data)
    return counter.finish()


class CsvConcatenator:
    """Joins query result sets (each a CSV with its own header row) into one CSV with one header.

    Bodies of ``Records not found for this query`` contribute nothing. Every result set must have
    the same header; a different one raises rather than silently shifting columns.
    """

    def __init__(self, out: BinaryIO):
        self.out = out
        self.header: bytes | None = None
        self.records = 0
        self.result_sets = 0

    def add(self, chunks: Iterable[bytes]) -> int:
        """Append one result set; return its number of records."""
        iterator = iter(chunks)
        head = b""
        for chunk in iterator:  # up to the end of the first line: the header, or "Records not found"
            head += chunk
            if b"\n" in head:
                break
        end = head.find(b"\n")
        first_line = (head if end < 0 else head[:end]).removeprefix(BOM).rstrip(b"\r")
        if first_line.strip() == NO_RECORDS:
            for _ in iterator:  # drain: the connection is reused
                pass
            return 0
        if not first_line.strip():
            return 0
        if self.header is None:
            self.header = first_line
            self.out.write(first_line + b"\n")
        elif first_line != self.header:
            raise InvalidRequestError(f"result sets of one query have different headers: "
                                      f"{self.header[:200]!r} and {first_line[:200]!r}")
        self.result_sets += 1
        counter = RecordCounter()
        last = b"\n"
        for chunk in itertools.chain((head[end + 1:] if end >= 0 else b"",), iterator):
            if chunk:
                counter.feed(chunk)
                self.out.write(chunk)
                last = chunk[-1:]
        if last != b"\n":
            self.out.write(b"\n")
        count = counter.finish()
        self.records += count
        return count
