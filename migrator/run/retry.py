"""What `migrator retry` sends again: the rows of a finished run that did not load, and nothing else.

A retry recompiles the plan from the current sources (the user may have fixed them) and keeps only
the rows the original run rejected, failed or skipped, found by key and by source row. A key that
loaded once is never selected by key again, even if a later row with the same key was rejected (a
duplicate): that would re-send the row that loaded. A run that did not finish is refused, because
its missing rows are neither rejected nor failed: `--resume` is what sends them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from migrator.compile.csvio import read_table
from migrator.compile.manifest import REJECTS_FILE, read_manifest
from migrator.compile.planner import RowSelection
from migrator.errors import RunStateError
from migrator.run.rundir import RunPaths, read_json

UNFINISHED = frozenset({"interrupted", "error"})


def check_retryable(original: RunPaths, resume_command: str) -> None:
    """Refuse to retry a run that stopped before every row had an outcome."""
    results: dict[str, Any] | None = read_json(original.results) if original.results.exists() else None
    status = (results or {}).get("status")
    if results is not None and status not in UNFINISHED:
        return
    totals = (results or {}).get("totals") or {}
    unsent = int(totals.get("not_sent", 0)) + int(totals.get("in_flight", 0))
    how_many = f" ({unsent:,} row(s) have no outcome yet)" if unsent else ""
    state = status or "unfinished"
    raise RunStateError(f"run {original.run_id} is {state}: it stopped before every row was sent{how_many}, "
                        "and retry only re-sends rows that were rejected, failed or skipped. "
                        f"Finish it first with: {resume_command}")


def retry_selection(original: RunPaths) -> dict[str, RowSelection]:
    """Rows of the original run that did not load: rejected, failed or skipped, by key and by source row."""
    manifest = read_manifest(original.plan_dir)
    keys: dict[str, set[str]] = {}
    positions: dict[str, set[tuple[str, str]]] = {}
    loaded: dict[str, set[str]] = {}

    def add(step: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        keys.setdefault(step, set()).update(k.lower() for k in frame["key"] if k)
        positions.setdefault(step, set()).update(zip(frame["source_file"], frame["source_row"], strict=True))

    rejects = original.plan_dir / REJECTS_FILE
    if rejects.exists():
        frame = read_table(rejects)
        for step, group in frame.groupby("step"):
            add(str(step), group)
    for entry in manifest.steps:
        for kind in ("failed", "skipped"):
            path = original.step_dir(entry.id) / f"{kind}.csv"
            if path.exists():
                add(entry.step, read_table(path))
        success = original.step_dir(entry.id) / "success.csv"
        if entry.pass_no == 1 and success.exists():
            loaded.setdefault(entry.step, set()).update(k.lower() for k in read_table(success).get("key", ()) if k)
    return {
        step: RowSelection(keys=frozenset(keys.get(step, set()) - loaded.get(step, set())),
                           positions=frozenset(positions.get(step, ())))
        for step in set(keys) | set(positions)
    }
