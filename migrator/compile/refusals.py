"""Rows the planner refuses or worries about: `rejects.csv` and `missing_parents.csv`.

Every refused row is written with its step, source file and row, key, field, value and reason,
and counted per step, so that `source rows - filtered = rejected + sent` always holds. During a
retry only the rows the retry selected are reported.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from migrator.compile.csvio import TableAppender
from migrator.compile.manifest import MISSING_PARENT_COLUMNS, MISSING_PARENTS_FILE, REJECT_COLUMNS, REJECTS_FILE
from migrator.compile.rowchunks import RowChunk
from migrator.compile.transform import LookupColumn
from migrator.plan.model import ObjectSpec


@dataclass
class StepStats:
    files: list[str] = field(default_factory=list)
    source_rows: int = 0
    filtered: int = 0
    rejected: int = 0
    rows: int = 0
    deferred_rows: int = 0
    levels: int = 1
    missing: Counter = field(default_factory=Counter)


class Refusals:
    def __init__(self, directory: Path, stats: dict[str, StepStats], *, strict: bool):
        self.rejects = TableAppender(directory / REJECTS_FILE, REJECT_COLUMNS)
        self.missing = TableAppender(directory / MISSING_PARENTS_FILE, MISSING_PARENT_COLUMNS)
        self.stats, self.strict = stats, strict

    def reject(self, spec: ObjectSpec, chunk: RowChunk, positions: pd.Index, field_name: pd.Series | str,
               value: pd.Series | str, reason: pd.Series | str, key: pd.Series | str = "") -> None:
        """Record rows refused before sending; `positions` index into the chunk's source rows."""
        positions = chunk.chosen_positions(positions)
        if len(positions) == 0:
            return

        def pick(item: pd.Series | str) -> object:
            return item.loc[positions].astype(str).to_numpy() if isinstance(item, pd.Series) else item

        self.rejects.append(pd.DataFrame({
            "step": spec.name, "object": spec.object, "source_file": pick(chunk.files),
            "source_row": pick(chunk.lines), "key": pick(key), "field": pick(field_name), "value": pick(value),
            "reason": pick(reason)}, index=positions))
        self.stats[spec.name].rejected += len(positions)

    def rejects_missing(self, column: LookupColumn) -> bool:
        """Whether a row naming a parent absent from the data is refused: `missing: reject`, or the
        default `send` under `--strict`."""
        return column.lookup.missing == "reject" or (column.lookup.missing == "send" and self.strict)

    @staticmethod
    def missing_rule(column: LookupColumn) -> str:
        """What refused a missing parent, for the reason text: the plan's policy or the flag."""
        return "missing: reject" if column.lookup.missing == "reject" else "--strict"

    def missing_parents(self, spec: ObjectSpec, chunk: RowChunk, column: LookupColumn, mask: pd.Series,
                        keys: pd.Series) -> RowChunk:
        """Report rows whose parent is not in the data, then send, blank or reject them per the lookup's
        `missing` policy (`--strict` turns `send` into `reject`)."""
        positions = mask[mask].index
        if len(positions) == 0:
            return chunk
        values = chunk.rows[column.header]
        reported = chunk.chosen_positions(positions)
        self.stats[spec.name].missing[column.lookup.field] += len(reported)
        self.missing.append(pd.DataFrame({
            "step": spec.name, "object": spec.object, "source_file": chunk.files.loc[reported].to_numpy(),
            "source_row": chunk.lines.loc[reported].astype(str).to_numpy(), "key": keys.loc[reported].to_numpy(),
            "field": column.lookup.field, "parent_object": column.target, "parent_key_field": column.key,
            "parent_key": values.loc[reported].to_numpy()}))
        policy = "reject" if self.rejects_missing(column) else column.lookup.missing
        if policy == "reject":
            self.reject(spec, chunk, positions, column.lookup.field, values,
                        f"parent {column.target} with {column.key} = this value is not in the source data "
                        f"({self.missing_rule(column)})", keys)
            return chunk.without(positions)
        if policy == "blank":
            blanked = values.copy()
            blanked.loc[positions] = ""
            return chunk.with_rows(chunk.rows.assign(**{column.header: blanked}))
        return chunk
