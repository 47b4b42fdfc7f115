"""`run_results.json`: what a run did, step by step, in numbers that add up.

For every plan step, `source_rows - filtered = rejected + unchanged + to_send` (the plan's side;
`unchanged` rows are those a changed-only load did not send, since the target already held them) and
`to_send = sent + skipped + not_sent`, `sent = succeeded + failed + in_flight` (the run's side):
`sent` counts only rows that reached the server, `skipped` rows whose parent did not load,
`not_sent` rows the run never got to (it was stopped), `in_flight` rows sent in a job whose results
it did not get to read. Totals add the pass-1 steps of the selected plan steps only (`--select`),
because pass-2 steps update the same records again (their own counts are listed per step). A
delete step's loaded rows are `deleted`, never created or updated. Top error codes and reject
reasons come with example rows (source file and row, key, message) so the report can point at the
line to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from migrator.compile.csvio import read_table
from migrator.compile.manifest import MIGRATOR_VERSION, MISSING_PARENTS_FILE, REJECTS_FILE, UNCHANGED_FILE, Manifest
from migrator.run.rundir import RUN_RESULTS_VERSION, RunPaths
from migrator.run.step_results import StepTally

EXAMPLES = 3
_OUTCOME_KEYS = ("sent", "succeeded", "created", "updated", "deleted", "failed", "skipped", "in_flight", "not_sent")


DELETES = frozenset({"delete", "hardDelete"})


def _step_record(paths: RunPaths, step_id: str, tally: StepTally, entry: Any) -> dict[str, Any]:
    folder = paths.step_dir(step_id)
    deleting = entry.operation in DELETES
    return {
        "id": step_id,
        "step": entry.step,
        "object": entry.object,
        "operation": entry.operation,
        "api": entry.api,
        "pass": entry.pass_no,
        "level": entry.level,
        "wave": entry.wave,
        "rows": tally.rows,
        "sent": tally.succeeded + tally.failed + tally.in_flight,
        "succeeded": tally.succeeded,
        "created": 0 if deleting else tally.created,
        "updated": 0 if deleting else tally.succeeded - tally.created,
        "deleted": tally.succeeded if deleting else 0,
        "failed": tally.failed,
        "skipped": tally.skipped,
        "in_flight": tally.in_flight,
        "not_sent": tally.not_sent,
        "unchanged": entry.unchanged,
        "retried": tally.retried,
        "jobs": tally.jobs,
        "api_calls": tally.api_calls,
        "lock_failures": tally.lock_failures,
        "serial": tally.serial,
        "seconds": round(tally.seconds, 3),
        "error_codes": dict(sorted(tally.error_codes.items())),
        "files": {kind: paths.relative(folder / f"{kind}.csv") for kind in ("success", "failed", "skipped")}
        | ({"unchanged": paths.relative(folder / "unchanged.csv")} if entry.unchanged else {}),
    }


def _top_errors(paths: RunPaths, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frames = []
    for step in steps:
        path = paths.root / step["files"]["failed"]
        if step["failed"] and path.exists():
            frame = read_table(path)
            frames.append(frame.assign(step=step["id"]))
    if not frames:
        return []
    failed = pd.concat(frames, ignore_index=True)
    top = []
    for code, group in sorted(failed.groupby("error_code"), key=lambda item: (-len(item[1]), item[0])):
        examples = group.head(EXAMPLES)
        top.append(
            {
                "code": code,
                "count": len(group),
                "message": str(examples["message"].iloc[0]),
                "examples": examples[["step", "key", "source_file", "source_row", "message"]].to_dict("records"),
            }
        )
    return top


def _reject_reasons(paths: RunPaths, steps: set[str]) -> list[dict[str, Any]]:
    """Reasons rows of the plan steps `steps` were rejected for, most frequent first."""
    path = paths.plan_dir / REJECTS_FILE
    if not path.exists():
        return []
    rejects = read_table(path)
    if rejects.empty:
        return []
    rejects = rejects[rejects["step"].isin(steps)]
    if rejects.empty:
        return []
    reasons = []
    for reason, group in sorted(rejects.groupby("reason"), key=lambda item: (-len(item[1]), item[0])):
        examples = group.head(EXAMPLES)[["step", "key", "field", "value", "source_file", "source_row"]]
        reasons.append({"reason": reason, "count": len(group), "examples": examples.to_dict("records")})
    return reasons


def build_results(
    *,
    paths: RunPaths,
    manifest: Manifest,
    tallies: Mapping[str, StepTally],
    run_info: dict[str, Any],
    status: str,
    exit_code: int,
    started_at: str,
    finished_at: str,
    elapsed: float,
    error: str | None = None,
    resume_command: str | None = None,
) -> dict[str, Any]:
    steps = [_step_record(paths, entry.id, tallies[entry.id], entry) for entry in manifest.steps if entry.id in tallies]
    sources = []
    for summary in manifest.sources:
        mine = [s for s in steps if s["step"] == summary.step and s["pass"] == 1]
        sources.append(
            {
                "step": summary.step,
                "object": summary.object,
                "files": list(summary.files),
                "source_rows": summary.source_rows,
                "filtered": summary.filtered,
                "rejected": summary.rejected,
                "unchanged": summary.unchanged,
                "to_send": summary.rows,
                **{kind: sum(s[kind] for s in mine) for kind in _OUTCOME_KEYS},
                "missing_parents": summary.missing_parents,
                "selected": bool(mine),
                **({"masked": summary.masked} if summary.masked else {}),
                **({"generated": summary.generated} if summary.generated else {}),
            }
        )
    chosen = [s for s in sources if s["selected"]]
    pass1 = [s for s in steps if s["pass"] == 1]
    totals = {
        **{kind: sum(s[kind] for s in chosen)
           for kind in ("source_rows", "filtered", "rejected", "unchanged", "to_send")},
        **{kind: sum(s[kind] for s in pass1) for kind in _OUTCOME_KEYS},
        "retried": sum(s["retried"] for s in steps),
        "jobs": sum(s["jobs"] for s in steps),
        "api_calls": sum(s["api_calls"] for s in steps),
        "lock_failures": sum(s["lock_failures"] for s in steps),
        "links_failed": sum(s["failed"] + s["skipped"] + s["in_flight"] + s["not_sent"]
                            for s in steps if s["pass"] == 2),
    }
    return {
        "run_results_version": RUN_RESULTS_VERSION,
        "run_id": paths.run_id,
        "migrator_version": MIGRATOR_VERSION,
        "plan": {
            "name": manifest.plan_name,
            "file": run_info.get("plan_file"),
            "checksum": manifest.plan_checksum,
            "description": manifest.description,
        },
        "target": run_info.get("target", {}),
        "started_at": started_at,
        "finished_at": finished_at,
        "elapsed_seconds": round(elapsed, 3),
        "status": status,
        "exit_code": exit_code,
        "error": error,
        "resume_command": resume_command,
        "options": run_info.get("options", {}),
        **({"fake": manifest.fake} if manifest.fake else {}),
        "steps": steps,
        "sources": sources,
        "totals": totals,
        "top_errors": _top_errors(paths, steps),
        "reject_reasons": _reject_reasons(paths, {s["step"] for s in chosen}),
        "files": {
            "rejects": f"plan/{REJECTS_FILE}",
            "missing_parents": f"plan/{MISSING_PARENTS_FILE}",
            **({"unchanged": f"plan/{UNCHANGED_FILE}"} if manifest.unchanged else {}),
            "report": "report.html",
            "run_results": "run_results.json",
        },
    }


def run_outcome(totals: Mapping[str, int], *, strict: bool) -> tuple[str, int]:
    """(status, exit code) of a run that went to the end.

    `nothing_sent` (exit 1): every row was rejected before sending, so the run loaded nothing, which
    is no success (a changed-only run whose other rows were all unchanged did its job, though).
    `completed_with_failures` (exit 1): some rows failed or were skipped (or, with --strict,
    rejected). `succeeded` (exit 0): every row sent was loaded."""
    if totals["rejected"] and not totals["to_send"] and not totals.get("unchanged"):
        return "nothing_sent", 1
    bad = totals["failed"] + totals["skipped"] + totals["links_failed"] + totals["not_sent"] + totals["in_flight"]
    if strict:
        bad += totals["rejected"]
    return ("completed_with_failures", 1) if bad else ("succeeded", 0)


def summary_path(paths: RunPaths) -> Path:
    return paths.results
