"""Transformed rows on their way through the planner, and where they wait between passes.

A `RowChunk` is a block of transformed rows that still knows, for every row, the source file and
row it came from (its index is the position in the source chunk, so `files` and `lines` stay
valid while rows are dropped). During a retry it also knows which rows the retry selected.
A `Spill` parks chunks in an Arrow IPC file when a step needs a second look at all its rows
(hierarchy levels) or must wait for other steps (pass-2 lookups), keeping memory flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa


@dataclass
class RowChunk:
    rows: pd.DataFrame
    files: pd.Series
    lines: pd.Series
    chosen: pd.Series | None = None  # by source position: the rows a retry selected (None: all rows)

    def with_rows(self, rows: pd.DataFrame) -> RowChunk:
        return replace(self, rows=rows)

    def without(self, drop: pd.Index) -> RowChunk:
        return self if len(drop) == 0 else self.with_rows(self.rows.drop(index=drop))

    def chosen_positions(self, positions: pd.Index) -> pd.Index:
        return positions if self.chosen is None else positions[self.chosen.loc[positions].to_numpy()]

    def only_chosen(self) -> RowChunk:
        if self.chosen is None:
            return self
        return self.with_rows(self.rows[self.chosen.loc[self.rows.index].to_numpy()])


class Spill:
    """Row chunks in an Arrow IPC file, read back in the order they were written."""

    def __init__(self, path: Path):
        self.path = path
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, chunk: RowChunk) -> None:
        rows = chunk.rows
        chosen = chunk.chosen.loc[rows.index].to_numpy() if chunk.chosen is not None else np.ones(len(rows), bool)
        frame = rows.astype("str").assign(
            __file=chunk.files.loc[rows.index].to_numpy(), __row=chunk.lines.loc[rows.index].to_numpy(),
            __chosen=chosen)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pa.ipc.new_file(self.path, table.schema)
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def read(self) -> Iterator[RowChunk]:
        if not self.path.exists():
            return
        with pa.memory_map(str(self.path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                frame = reader.get_batch(i).to_pandas()
                files, lines, chosen = frame.pop("__file"), frame.pop("__row"), frame.pop("__chosen")
                yield RowChunk(rows=frame.astype("str"), files=files.astype("str"), lines=lines,
                               chosen=None if chosen.all() else chosen.astype(bool))

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
