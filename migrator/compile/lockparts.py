"""Lock-aware parts: a step's rows ordered by parent and cut on parent boundaries.

Salesforce locks the parent a row names (the account of a contact, the parent of an account) while
the row's batch is saved; two batches naming the same parent at the same time wait for each other
and fail with ``UNABLE_TO_LOCK_ROW`` after about 10 s. Its guidance is to sort child records by
parent so that parallel batches do not collide. So rows are grouped by the parent they name in the
step's *lock lookup* (the first lookup sent with them, other objects before the step's own
hierarchy) and ordered by that parent key (folded to lower case, as Salesforce matches keys), rows
naming no parent last, input order kept within a parent; the step is then cut into about
`parts_hint` parts (the run's concurrency), each ending where a parent's rows end, so that two
parts never share a parent unless one parent has more rows than a part may hold. Every part records
the range of parent keys it names, so the executor can keep parts whose ranges meet (of this step or
of another one naming the same parents) from running at the same time.

The rows wait in an Arrow spill until the step's last chunk (the order is known only then); only
the keys (an Arrow string column) and the order (8 bytes a row) are held in memory, and rows are
read back in that order in slices, so memory stays flat.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.compile.csvio import PartInfo, PartWriter
from migrator.compile.manifest import LockRange

MIN_PART_ROWS = 2_000  # below this a Bulk job costs more than it saves (Salesforce: Bulk API for > 2,000 rows)
READ_SLICE = 65_536  # rows taken from the spill at a time


@dataclass(frozen=True)
class LockColumn:
    """The lookup a step's rows are grouped by: its CSV header(s), parent object(s) and key field."""

    field: str
    headers: tuple[str, ...]
    targets: tuple[str, ...]
    key: str

    @property
    def space(self) -> str:
        """Which parents the hashes name: parts with the same space and meeting ranges share parents."""
        return f"{'|'.join(self.targets)}.{self.key}"


def lock_keys(rows: pd.DataFrame, column: LockColumn) -> pa.Array:
    """The parent each row names in the lock lookup, folded to lower case; "" when it names none.

    A polymorphic lookup has one header per target; its keys are then prefixed by the target."""
    keys: pa.Array | None = None
    for target, header in zip(column.targets, column.headers, strict=True):
        values = pc.utf8_lower(pa.array(rows[header]).cast(pa.string()))
        if len(column.headers) > 1:
            values = pc.if_else(pc.equal(values, ""), "", pc.binary_join_element_wise(target.lower(), values, "\x1f"))
        keys = values if keys is None else pc.if_else(pc.equal(keys, ""), values, keys)
    assert keys is not None
    return keys


def part_bounds(group_starts: np.ndarray, total: int, named: int, target: int, limit: int) -> list[tuple[int, int]]:
    """Cut positions [start, end) over `total` rows ordered by parent, the first `named` naming one.

    `group_starts` are the positions where a parent's rows begin (ascending, below `named`). Each part
    holds about `target` rows and ends where a parent's rows end; a parent with more than `limit` rows
    is split at `limit` (the one case where parts share a parent). Rows naming no parent are cut
    anywhere. A last part smaller than a quarter of `target` joins the one before when both fit in
    `limit`."""
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < total:
        end = min(start + target, total)
        if end < named:
            at = int(np.searchsorted(group_starts, end, side="left"))
            next_group = int(group_starts[at]) if at < group_starts.size else named
            end = min(next_group, start + limit)
        bounds.append((start, end))
        start = end
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < target / 4 and bounds[-1][1] - bounds[-2][0] <= limit:
        bounds[-2:] = [(bounds[-2][0], bounds[-1][1])]
    return bounds


def aligned_bounds(ordered: pa.Array, group_starts: np.ndarray, total: int, named: int, cut_at: list[str],
                   target: int, limit: int) -> list[tuple[int, int]]:
    """Cut where an earlier step naming the same parents was cut (at the parent keys `cut_at`), so that
    this step's k-th part and another k-th part are the only ones that may share parents; a piece too
    big is cut further, one smaller than MIN_PART_ROWS joins the next. Rows naming no parent follow."""
    head = ordered.slice(0, named)
    cuts = sorted({0, named, *(int(pc.sum(pc.less(head, key)).as_py() or 0) for key in cut_at)})
    pieces: list[tuple[int, int]] = []
    for lo, hi in itertools.pairwise(cuts):
        if pieces and pieces[-1][1] - pieces[-1][0] < MIN_PART_ROWS:
            lo = pieces.pop()[0]
        if hi - lo > min(limit, 2 * target):
            inner = group_starts[(group_starts >= lo) & (group_starts < hi)] - lo
            pieces += [(lo + a, lo + b) for a, b in part_bounds(inner, hi - lo, hi - lo, target, limit)]
        else:
            pieces.append((lo, hi))
    if total > named:
        pieces += [(named + a, named + b) for a, b in part_bounds(np.zeros(0, np.int64), total - named, 0, target,
                                                                     limit)]
    return pieces


def rows_per_part(rows: int, parts_hint: int, max_rows: int) -> int:
    return max(1, min(max_rows, max(MIN_PART_ROWS, math.ceil(rows / max(1, parts_hint)))))


class LockAwareWriter:
    """Like `PartWriter` (same files, same `close()`), but writes the parts ordered and cut by parent.

    `lock` None keeps input order and only cuts the rows into about `parts_hint` parts."""

    def __init__(self, folder: Path, columns: list[str], *, max_rows: int, max_bytes: int, lock: LockColumn | None,
                 parts_hint: int, spill: Path, cuts: dict[str, list[str]] | None = None):
        self.folder, self.columns, self.lock = folder, list(columns), lock
        self.max_rows, self.max_bytes, self.parts_hint = max_rows, max_bytes, parts_hint
        self.spill_path = spill
        # parent space -> the parent keys where the first step naming those parents was cut (shared by
        # the writers of one compile, so that steps naming the same parents are cut alike)
        self.cuts = cuts if cuts is not None else {}
        self.locks: dict[str, tuple[LockRange, ...]] = {}  # part file name -> the range of parents it names
        self._keys: list[pa.Array] = []
        self._rows = 0
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, rows: pd.DataFrame, source_files: pd.Series, source_rows: pd.Series) -> None:
        if rows.empty:
            return
        frame = rows[self.columns].astype("str").assign(__file=source_files.astype("str").to_numpy(),
                                                        __row=source_rows.astype("str").to_numpy())
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pa.ipc.new_file(self.spill_path, table.schema)
        self._writer.write_table(table.cast(self._schema))
        self._rows += len(rows)
        if self.lock:
            self._keys.append(lock_keys(rows, self.lock))

    def close(self) -> list[PartInfo]:
        if self._writer is None:
            return []
        self._writer.close()
        self._writer = None
        order, keys, starts, named = self._order()
        writer = PartWriter(self.folder, self.columns, max_rows=self.max_rows, max_bytes=self.max_bytes)
        try:
            with pa.memory_map(str(self.spill_path)) as source:
                table = pa.ipc.open_file(source).read_all()
                for start, end in self._bounds(keys, starts, named):
                    first_file = len(writer.parts)
                    for at in range(start, end, READ_SLICE):
                        picked = table.take(pa.array(order[at:min(at + READ_SLICE, end)])).to_pandas()
                        files, lines = picked.pop("__file"), picked.pop("__row")
                        writer.write(picked, files, lines)
                    writer.end_part()
                    ranges = self._range(keys, start, min(end, named))
                    for part in writer.parts[first_file:]:
                        self.locks[part.path.name] = ranges
            return writer.close()
        finally:
            self.spill_path.unlink(missing_ok=True)

    def _bounds(self, keys: pa.Array | None, starts: np.ndarray, named: int) -> list[tuple[int, int]]:
        target = rows_per_part(self._rows, self.parts_hint, self.max_rows)
        if self.lock is None or keys is None or not named:
            return part_bounds(starts, self._rows, named, target, self.max_rows)
        shared = self.cuts.get(self.lock.space)
        if shared is not None and named >= 2 * MIN_PART_ROWS:
            return aligned_bounds(keys, starts, self._rows, named, shared, target, self.max_rows)
        bounds = part_bounds(starts, self._rows, named, target, self.max_rows)
        if shared is None and len(bounds) > 1:
            self.cuts[self.lock.space] = [keys[start].as_py() for start, _ in bounds[1:] if start < named]
        return bounds

    def _order(self) -> tuple[np.ndarray, pa.Array | None, np.ndarray, int]:
        """(row order, keys in that order, where each parent's rows start, rows naming a parent)."""
        if not self.lock:
            return np.arange(self._rows), None, np.zeros(0, np.int64), 0
        keys = pa.concat_arrays(self._keys)
        self._keys = []
        blank = pc.equal(keys, "")
        order = pc.sort_indices(pa.table({"blank": blank, "key": keys}),
                                sort_keys=[("blank", "ascending"), ("key", "ascending")])
        ordered = keys.take(order)
        named = self._rows - pc.sum(blank).as_py() if self._rows else 0
        if named:
            head = ordered.slice(0, named)
            changed = pc.not_equal(head.slice(1), head.slice(0, named - 1)).to_numpy(zero_copy_only=False)
            starts = np.flatnonzero(np.concatenate(([True], changed)))
        else:
            starts = np.zeros(0, np.int64)
        return order.to_numpy(), ordered, starts, named

    def _range(self, keys: pa.Array | None, start: int, end: int) -> tuple[LockRange, ...]:
        if self.lock is None or keys is None or end <= start:
            return ()
        return (LockRange(space=self.lock.space, field=self.lock.field, lo=keys[start].as_py(),
                          hi=keys[end - 1].as_py()),)
