"""Rows the planner refuses or worries about: `rejects.csv` and `missing_parents.csv`.

Every refused row is written with its step, source file and row, key, field, value and reason,
and counted per step, so that `source rows - filtered = rejected + sent` always holds. During a
retry only the rows the retry selected are reported. Every reject is also remembered as a parent
that will not be sent (`RefusedParents`), so a row naming it says why its parent is missing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from migrator.compile.csvio import TableAppender
from migrator.compile.manifest import MISSING_PARENT_COLUMNS, MISSING_PARENTS_FILE, REJECT_COLUMNS, REJECTS_FILE
from migrator.compile.refused_parents import NOT_IN_DATA, RefusedParents
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
    def __init__(self, directory: Path, stats: dict[str, StepStats], parents: RefusedParents, *, strict: bool):
        self.rejects = TableAppender(directory / REJECTS_FILE, REJECT_COLUMNS)
        self.missing = TableAppender(directory / MISSING_PARENTS_FILE, MISSING_PARENT_COLUMNS)
        self.stats, self.parents, self.strict = stats, parents, strict

    def reject(self, spec: ObjectSpec, chunk: RowChunk, positions: pd.Index, field_name: pd.Series | str,
               value: pd.Series | str, reason: pd.Series | str, key: pd.Series | str = "") -> None:
        """Record rows refused before sending; `positions` index into the chunk's source rows."""
        positions = chunk.chosen_positions(positions)
        if len(positions) == 0:
            return

        def pick(item: pd.Series | str) -> object:
            return item.loc[positions].astype(str).to_numpy() if isinstance(item, pd.Series) else item

        frame = pd.DataFrame({
            "step": spec.name, "object": spec.object, "source_file": pick(chunk.files),
            "source_row": pick(chunk.lines), "key": pick(key), "field": pick(field_name), "value": pick(value),
            "reason": pick(reason)}, index=positions)
        self.rejects.append(frame)
        self.stats[spec.name].rejected += len(positions)
        if isinstance(key, pd.Series):
            self.parents.rejected(spec.name, frame["key"], frame["source_file"], frame["source_row"],
                                  frame["field"], frame["reason"])

    def rejects_missing(self, column: LookupColumn) -> bool:
        """Whether a row naming a parent absent from the data is refused: `missing: reject`, or the
        default `send` under `--strict`."""
        return column.lookup.missing == "reject" or (column.lookup.missing == "send" and self.strict)

    def missing_reason(self, column: LookupColumn, values: pd.Series, why: pd.Series) -> pd.Series:
        """`parent Account A0199 was rejected (accounts.csv line 201, Founded__c: not a date) (--strict)`,
        `... was filtered out by where (...)`, or `... with Legacy_Id__c = this value is not in the source data`."""
        rule = f" ({self.missing_rule(column)})"
        named = f"parent {column.target} " + values.astype("str") + " was " + why + rule
        absent = f"parent {column.target} with {column.key} = this value is {NOT_IN_DATA}{rule}"
        return named.where(why != NOT_IN_DATA, absent)

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
        why = self.parents.why(column.target, column.key, values.loc[positions])
        reported = chunk.chosen_positions(positions)
        self.stats[spec.name].missing[column.lookup.field] += len(reported)
        self.missing.append(pd.DataFrame({
            "step": spec.name, "object": spec.object, "source_file": chunk.files.loc[reported].to_numpy(),
            "source_row": chunk.lines.loc[reported].astype(str).to_numpy(), "key": keys.loc[reported].to_numpy(),
            "field": column.lookup.field, "parent_object": column.target, "parent_key_field": column.key,
            "parent_key": values.loc[reported].to_numpy(), "why": why.loc[reported].to_numpy()}))
        policy = "reject" if self.rejects_missing(column) else column.lookup.missing
        if policy == "reject":
            self.reject(spec, chunk, positions, column.lookup.field, values,
                        self.missing_reason(column, values.loc[positions], why), keys)
            return chunk.without(positions)
        if policy == "blank":
            blanked = values.copy()
            blanked.loc[positions] = ""
            return chunk.with_rows(chunk.rows.assign(**{column.header: blanked}))
        return chunk
