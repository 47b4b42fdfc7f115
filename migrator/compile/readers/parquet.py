"""Parquet files through pyarrow, a row group at a time, with `columns:` pushed down.

A row group is Parquet's unit of reading; big ones are read in batches so that a chunk stays near
the planner's block size whatever the writer chose. Only the columns the step names in
`columns:` are read (the others are never decompressed). Typed values become text as in
`readers.text`; nested records become `a.b` columns. Rows are referred to by row group and row,
both counted from 1: `row group 2, row 17` (the 17th row of the second group).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from migrator.compile.readers.base import SourceChunk, SourceWarning, numbered_refs, scan_chunks
from migrator.compile.readers.files import check_kind
from migrator.compile.readers.text import flatten, frame_text
from migrator.errors import SourceDataError

# Arrow's text of a typed column is about this many times its in-memory width: batches of this many
# bytes of raw columns keep a chunk near the block size.
_BYTES_PER_ROW_FLOOR = 16


def _leaf_names(schema: pa.Schema) -> tuple[str, ...]:
    """Column names as the reader yields them: nested records flattened to `a.b`."""
    return tuple(flatten(schema.empty_table()).column_names)


@dataclass
class ParquetReader:
    path: Path
    name: str
    wanted: tuple[str, ...] = ()  # `columns:` of the step (top-level names or flattened a.b)
    block_bytes: int = 2 * 1024 * 1024
    kind: str = "parquet"
    _file: pq.ParquetFile | None = field(default=None, init=False, repr=False)

    def _open(self) -> pq.ParquetFile:
        if self._file is None:
            check_kind(self.path, self.name, "parquet")
            try:
                self._file = pq.ParquetFile(self.path)
            except (pa.ArrowException, OSError) as exc:
                raise SourceDataError(f"is not a readable Parquet file ({str(exc).splitlines()[0]})",
                                      file=self.name) from None
        return self._file

    def _read_columns(self) -> list[str] | None:
        """The top-level columns to read for `columns:` (a nested `a.b` reads its record `a`)."""
        if not self.wanted:
            return None
        return list(dict.fromkeys(c.split(".", 1)[0] if c not in self._open().schema_arrow.names else c
                                  for c in self.wanted))

    def columns(self) -> tuple[str, ...]:
        """The flattened columns; with `columns:`, those it names (or that lie under a record it names)."""
        leaves = _leaf_names(self._open().schema_arrow)
        if not self.wanted:
            return leaves
        under = [[leaf for leaf in leaves if leaf == c or leaf.startswith(c + ".")] for c in self.wanted]
        missing = [c for c, found in zip(self.wanted, under, strict=True) if not found]
        if missing:
            raise SourceDataError(f"has no column {missing[0]!r} (columns: {', '.join(leaves)})", file=self.name)
        return tuple(dict.fromkeys(leaf for found in under for leaf in found))

    def _batch_rows(self, file: pq.ParquetFile) -> int:
        meta = file.metadata
        if meta.num_rows == 0:
            return 1
        width = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / meta.num_rows
        return max(1024, int(self.block_bytes / max(width, _BYTES_PER_ROW_FLOOR)))

    def chunks(self) -> Iterator[SourceChunk]:
        file = self._open()
        read = self._read_columns()
        names = self.columns()
        batch_rows = self._batch_rows(file)
        record = 1  # the record number, as for CSV (1 is the header)
        try:
            for group in range(file.metadata.num_row_groups):
                row = 0
                for batch in file.iter_batches(batch_size=batch_rows, row_groups=[group], columns=read,
                                               use_threads=False):
                    count = batch.num_rows
                    if count == 0:
                        continue
                    frame = frame_text(batch, names)
                    refs = numbered_refs(f"row group {group + 1}, row ", row + 1, count)
                    yield SourceChunk(frame, self.name, np.arange(record + 1, record + count + 1), refs)
                    row += count
                    record += count
        except (pa.ArrowException, OSError) as exc:
            raise SourceDataError(f"cannot be read as Parquet ({str(exc).splitlines()[0]})", file=self.name) from None

    def scan(self) -> list[SourceWarning]:
        return scan_chunks(self)
