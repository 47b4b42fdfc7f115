"""A step's source file, written sorted by key with stable formatting.

Rows are sorted by the step's key column, then by every other column, so the same records always
give the same bytes and a dataset kept in git changes only where the data changed. Values are all
quoted, UTF-8 (or the plan's source encoding) with LF line ends; the header is the plan's column
names. The file is written under a temporary name and renamed into place.

Memory stays bounded: a step of up to `memory_rows` rows is sorted in memory; a bigger one is
shaped page by page into Arrow files, cut into key ranges from a sample of its keys, and each range
is read back, sorted and appended in turn.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc

from migrator.errors import SourceDataError
from migrator.extract.shape import ID_COLUMN

DEFAULT_MEMORY_ROWS = 500_000
ENCODE_ROWS = 50_000
SAMPLE_EVERY = 64


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    bytes: int
    sha256: str


def _header(columns: list[str], delimiter: str) -> str:
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"' if any(ch in name for ch in f'{delimiter}"\r\n') else name

    return delimiter.join(quote(c) for c in columns) + "\n"


class _Sink:
    """The output file under a temporary name, hashed and counted as it is written."""

    def __init__(self, dest: Path, encoding: str):
        dest.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        self.dest, self.temp, self.encoding = dest, Path(temp), encoding
        self.out = os.fdopen(handle, "wb")
        self.digest, self.bytes = hashlib.sha256(), 0
        self.utf8 = encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")

    def write(self, data: bytes) -> None:
        if not self.utf8:
            try:
                data = data.decode("utf-8").encode(self.encoding)
            except UnicodeEncodeError as exc:
                value = exc.object[max(0, exc.start - 20):exc.end + 20]
                raise SourceDataError(f"a value cannot be written in the plan's source encoding {self.encoding} "
                                      f"(near {value!r}); set the source's encoding to utf-8",
                                      file=str(self.dest)) from None
        self.out.write(data)
        self.digest.update(data)
        self.bytes += len(data)

    def close(self) -> None:
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        os.replace(self.temp, self.dest)

    def abort(self) -> None:
        self.out.close()
        self.temp.unlink(missing_ok=True)


def _encode(table: pa.Table, sink: _Sink, delimiter: str) -> None:
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed", delimiter=delimiter)
    for start in range(0, table.num_rows, ENCODE_ROWS):
        buffer = io.BytesIO()
        pacsv.write_csv(table.slice(start, ENCODE_ROWS), buffer, options)
        sink.write(buffer.getvalue())


def _sorted(table: pa.Table, key: str | None, columns: list[str]) -> pa.Table:
    order = ([key] if key else []) + [c for c in columns if c != key]
    return table.sort_by([(c, "ascending") for c in order]).select(columns)


def _column(values: pd.Series) -> pa.ChunkedArray:
    """A text column as Arrow strings, without copying when pandas already holds it in Arrow."""
    array = values.array
    if isinstance(getattr(array, "_pa_array", None), pa.ChunkedArray):
        chunked = array._pa_array
        return chunked if chunked.type == pa.string() else chunked.cast(pa.string())
    return pa.chunked_array([pa.array(values.to_numpy(dtype=object), pa.string())])


def _as_table(frame: pd.DataFrame, columns: list[str]) -> pa.Table:
    return pa.table({c: _column(frame[c]) for c in columns})


class SortedWriter:
    """Collects a step's shaped pages, then writes them sorted (see the module docstring)."""

    def __init__(self, dest: Path, columns: list[str], key: str | None, *, encoding: str, delimiter: str,
                 scratch: Path, memory_rows: int = DEFAULT_MEMORY_ROWS):
        self.dest, self.columns, self.key = dest, columns, key
        self.encoding, self.delimiter = encoding, delimiter
        self.scratch, self.memory_rows = scratch, max(1, memory_rows)
        self.tables: list[pa.Table] = []
        self.spilled: list[Path] = []
        self.samples: list[pa.Array] = []
        self.rows = 0

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        table = _as_table(frame, self.columns)
        self.rows += table.num_rows
        if self.key:
            self.samples.append(table.column(self.key).combine_chunks()[::SAMPLE_EVERY])
        self.tables.append(table)
        if self.rows > self.memory_rows:
            self._spill()

    def _spill(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        for table in self.tables:
            path = self.scratch / f"{len(self.spilled):06d}.arrow"
            with ipc.new_file(path, table.schema) as out:
                out.write_table(table)
            self.spilled.append(path)
        self.tables = []

    def write(self) -> WrittenFile:
        sink = _Sink(self.dest, self.encoding)
        try:
            sink.write(_header(self.columns, self.delimiter).encode("utf-8"))
            if not self.spilled:
                if self.tables:
                    _encode(_sorted(pa.concat_tables(self.tables), self.key, self.columns), sink, self.delimiter)
            else:
                self._spill()
                self._write_ranges(sink)
        except BaseException:
            sink.abort()
            raise
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)
        sink.close()
        return WrittenFile(self.dest, self.rows, sink.bytes, sink.digest.hexdigest())

    def _ranges(self) -> list[tuple[str | None, str | None]]:
        count = math.ceil(self.rows / self.memory_rows)
        if not self.key or count <= 1:
            return [(None, None)]
        sample = pc.unique(pa.concat_arrays(self.samples))
        sample = pc.take(sample, pc.sort_indices(sample)).to_pylist()
        cuts = sorted({sample[len(sample) * i // count] for i in range(1, count)})
        bounds = [None, *cuts, None]
        return list(itertools.pairwise(bounds))

    def _write_ranges(self, sink: _Sink) -> None:
        """Several key ranges when a key sorts the step, else one pass over everything (no key to cut by)."""
        for low, high in self._ranges():
            parts = []
            for path in self.spilled:
                with pa.memory_map(str(path)) as source:
                    table = ipc.open_file(source).read_all()
                if self.key and (low is not None or high is not None):
                    keys = table.column(self.key)
                    mask = None
                    if low is not None:
                        mask = pc.greater_equal(keys, low)
                    if high is not None:
                        upper = pc.less(keys, high)
                        mask = upper if mask is None else pc.and_(mask, upper)
                    table = table.filter(mask)
                parts.append(table)
            if parts:
                _encode(_sorted(pa.concat_tables(parts), self.key, self.columns), sink, self.delimiter)


def write_sorted(frames: Iterable[pd.DataFrame], dest: Path, columns: list[str], key: str | None, *, encoding: str,
                 delimiter: str, scratch: Path, memory_rows: int = DEFAULT_MEMORY_ROWS,
                 on_frame: Callable[[pd.DataFrame], None] | None = None) -> WrittenFile:
    """Write every frame's `columns` to `dest`, sorted; `on_frame` sees each frame first (with its
    hidden Id column) so the caller can index keys while the pages stream by."""
    writer = SortedWriter(dest, columns, key, encoding=encoding, delimiter=delimiter, scratch=scratch,
                          memory_rows=memory_rows)
    for frame in frames:
        if on_frame is not None:
            on_frame(frame)
        writer.add(frame.drop(columns=[ID_COLUMN], errors="ignore"))
    return writer.write()
