"""A step's final outcome: every job's result rows gathered into success, failed and skipped files.

Read from the per-job outcome files the executor wrote (so this works the same for a finished,
interrupted or resumed run), and tallied for `run_results.json`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from migrator.compile.csvio import TableAppender, read_table, write_table
from migrator.compile.manifest import UNCHANGED_FILE, StepEntry, unchanged_step_file
from migrator.run.checkpoint import PartProgress, StepProgress
from migrator.run.outcomes import FAILED_COLUMNS, SUCCESS_COLUMNS
from migrator.run.rundir import RunPaths

SKIPPED_COLUMNS = ("source_file", "source_row", "key", "reason", "parent_object", "parent_key")


@dataclass
class StepTally:
    """A step's rows by outcome: rows = succeeded + failed + skipped + in_flight + not_sent.

    `in_flight`: sent in a job whose results the run did not get to read (it was stopped);
    `not_sent`: no job carried them yet. Both are 0 once a step is done."""

    rows: int = 0
    succeeded: int = 0
    created: int = 0
    failed: int = 0
    skipped: int = 0
    in_flight: int = 0
    not_sent: int = 0
    retried: int = 0
    jobs: int = 0
    seconds: float = 0.0
    error_codes: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0  # HTTP calls the step's jobs made
    lock_failures: int = 0  # row failures on UNABLE_TO_LOCK_ROW, every attempt counted (retried or final)
    serial: bool = False  # its jobs went one at a time (the plan said so, or its locks did)


def collect_step(paths: RunPaths, step: StepEntry, progress: StepProgress) -> StepTally:
    """Write steps/<id>/success.csv, failed.csv and skipped.csv (and unchanged.csv, the rows a
    changed-only load did not send) and count what they hold."""
    tally = StepTally(rows=step.rows)
    folder = paths.step_dir(step.id)
    if step.unchanged:
        own = paths.plan_dir / unchanged_step_file(step.id)
        if own.exists():  # the step's rows alone, as drop_unchanged wrote them
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(own, folder / "unchanged.csv")
        else:  # a plan compiled before there were per-step files
            unchanged = read_table(paths.plan_dir / UNCHANGED_FILE)
            write_table(folder / "unchanged.csv", unchanged[unchanged["step_id"] == step.id].drop(columns="step_id"))
    success = TableAppender(folder / "success.csv", SUCCESS_COLUMNS)
    failed = TableAppender(folder / "failed.csv", (*FAILED_COLUMNS, *step.columns))
    skipped = TableAppender(folder / "skipped.csv", SKIPPED_COLUMNS)
    for part in step.parts:
        state = progress.parts.get(part.path)
        if state is None:
            tally.not_sent += part.rows
            continue
        settled = tally.succeeded + tally.failed + tally.skipped
        for job in state.jobs:
            tally.jobs += 1 if job.job_id else 0
            tally.seconds += job.seconds
            tally.api_calls += job.api_calls
            tally.lock_failures += job.counts.get("locked", 0)
            tally.retried += job.rows if job.attempt > 1 else 0
            if "success" in job.outcome:
                if "created" in job.counts:  # counted when written: copy the rows as they are
                    _copy_rows(paths.root / job.outcome["success"], success, job.counts["success"])
                    tally.succeeded += job.counts["success"]
                    tally.created += job.counts["created"]
                else:
                    rows = read_table(paths.root / job.outcome["success"])
                    success.append(rows)
                    tally.succeeded += len(rows)
                    tally.created += int((rows["created"] == "true").sum()) if "created" in rows else 0
            for kind in ("failed", "exhausted"):
                if kind not in job.outcome:
                    continue
                rows = read_table(paths.root / job.outcome[kind])
                failed.append(rows.reindex(columns=[*FAILED_COLUMNS, *step.columns], fill_value=""))
                tally.failed += len(rows)
                for code, count in rows["error_code"].value_counts().items():
                    tally.error_codes[str(code)] = tally.error_codes.get(str(code), 0) + int(count)
        if state.skipped_file:
            rows = read_table(paths.root / state.skipped_file)
            skipped.append(rows)
            tally.skipped += len(rows)
        _count_unsettled(tally, part.rows - (tally.succeeded + tally.failed + tally.skipped - settled), state)
    return tally


def _copy_rows(source: Path, target: TableAppender, rows: int) -> None:
    """Append the `rows` data rows of a job's success file (the step's columns) byte for byte: a big step's
    rows are not parsed and encoded again just to be gathered in one file."""
    with source.open("rb") as handle:
        handle.readline()  # the header
        data = handle.read()
    if data:
        with target.path.open("ab") as out:
            out.write(data)
        target.rows += rows


def _count_unsettled(tally: StepTally, unsettled: int, state: PartProgress) -> None:
    """Rows of a part with no outcome yet: in flight once a job of the part reached the server
    (a retry re-sends rows an earlier job of the part carried), else never sent."""
    if unsettled <= 0:
        return
    if any(job.job_id for job in state.jobs):
        tally.in_flight += unsettled
    else:
        tally.not_sent += unsettled


def pending_tally(step: StepEntry) -> StepTally:
    """A step the run never reached: every row is still to send."""
    return StepTally(rows=step.rows, not_sent=step.rows)
