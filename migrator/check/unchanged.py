"""Changed-only loads: drop from the compiled parts the rows the target already holds as they are.

Run after compiling and before anything is sent: each chosen step's rows are compared with the
target's current values (`targetdiff`), unchanged rows are written to ``unchanged.csv`` (step,
source file and line, key; each step's also to ``unchanged/<step id>.csv``) and removed from
their part, and the manifest is rewritten with the new parts and counts, so the run sends, and
reports as sent, only the rows that differ. Only upserts and updates can leave a row unchanged;
the pass-1 row of a source row decides whether the row counts as unchanged for its plan step (its
pass-2 row, if any, is compared on its own).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from migrator.check.compare import UNCHANGED
from migrator.check.current import CurrentRecords
from migrator.check.schema import TargetSchema
from migrator.check.targetdiff import diff_steps
from migrator.compile.csvio import TableAppender, encode_rows, header_line, read_table
from migrator.compile.manifest import (
    UNCHANGED_COLUMNS,
    UNCHANGED_FILE,
    UNCHANGED_STEP_COLUMNS,
    UNCHANGED_STEP_DIR,
    Manifest,
    PartEntry,
    StepEntry,
    unchanged_step_file,
    write_manifest,
)

CHANGEABLE = frozenset({"upsert", "update"})


def _rewrite(plan_dir: Path, part: PartEntry, rows: pd.DataFrame, index: pd.DataFrame) -> PartEntry:
    data = header_line(list(rows.columns)) + (encode_rows(rows) if len(rows) else b"")
    (plan_dir / part.path).write_bytes(data)
    (plan_dir / part.source_index).write_bytes(header_line(list(index.columns)) +
                                                (encode_rows(index) if len(index) else b""))
    return replace(part, rows=len(rows), bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def drop_unchanged(manifest: Manifest, plan_dir: Path, schema: TargetSchema, records: CurrentRecords,
                   plan_steps: Iterable[str]) -> Manifest:
    """The manifest after removing the unchanged rows of the steps of `plan_steps` (plan step names)."""
    wanted = set(plan_steps)
    chosen = [s.id for s in manifest.steps if s.step in wanted and s.operation in CHANGEABLE and s.rows]
    diffs = diff_steps(manifest, plan_dir, schema, records, chosen)
    unchanged = TableAppender(plan_dir / UNCHANGED_FILE, UNCHANGED_COLUMNS)
    shutil.rmtree(plan_dir / UNCHANGED_STEP_DIR, ignore_errors=True)  # no step's file from an earlier pass
    steps: list[StepEntry] = []
    per_plan_step: dict[str, int] = {}
    for step in manifest.steps:
        diff = diffs.get(step.id)
        if diff is None:
            steps.append(step)
            continue
        parts, dropped = [], 0
        per_step = None
        for part in step.parts:
            same = diff.parts[part.path] == UNCHANGED
            if not same.any():
                parts.append(part)
                continue
            rows = diff.rows.get(part.path)
            rows = read_table(plan_dir / part.path) if rows is None else rows.reset_index(drop=True)
            index = read_table(plan_dir / part.source_index)
            keys = rows[step.key_column] if step.key_column in rows else pd.Series("", index=rows.index)
            same_rows = pd.DataFrame({
                "step": step.step, "step_id": step.id, "object": step.object,
                "source_file": index["source_file"].to_numpy()[same],
                "source_row": index["source_row"].to_numpy()[same],
                "key": keys.to_numpy()[same]})
            unchanged.append(same_rows)
            if per_step is None:
                per_step = TableAppender(plan_dir / unchanged_step_file(step.id), UNCHANGED_STEP_COLUMNS)
            per_step.append(same_rows)
            dropped += int(same.sum())
            if same.all():
                (plan_dir / part.path).unlink()
                (plan_dir / part.source_index).unlink()
                continue
            parts.append(_rewrite(plan_dir, part, rows[~same].reset_index(drop=True),
                                  index[~same].reset_index(drop=True)))
        if step.pass_no == 1:
            per_plan_step[step.step] = per_plan_step.get(step.step, 0) + dropped
        steps.append(replace(step, parts=tuple(parts), rows=sum(p.rows for p in parts), unchanged=dropped))
    sources = tuple(replace(s, rows=s.rows - per_plan_step.get(s.step, 0),
                            unchanged=s.unchanged + per_plan_step.get(s.step, 0)) for s in manifest.sources)
    updated = replace(manifest, steps=tuple(steps), sources=sources,
                      unchanged=manifest.unchanged + sum(per_plan_step.values()))
    write_manifest(updated, plan_dir)
    return updated
