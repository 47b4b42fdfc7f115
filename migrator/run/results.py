"""`run_results.json`: what a run did, step by step, in numbers that add up.

For every plan step, `source_rows - filtered = rejected + sent` and `sent = succeeded + failed +
skipped`; totals add the pass-1 steps only, because pass-2 steps update the same records again
(their own counts are listed per step). Top error codes and reject reasons come with example rows
(source file and row, key, message) so the report can point at the line to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from migrator.compile.csvio import read_table
from migrator.compile.manifest import MIGRATOR_VERSION, MISSING_PARENTS_FILE, REJECTS_FILE, Manifest
from migrator.run.rundir import RUN_RESULTS_VERSION, RunPaths
from migrator.run.step_results import StepTally

EXAMPLES = 3


def _step_record(paths: RunPaths, step_id: str, tally: StepTally, entry: Any) -> dict[str, Any]:
    folder = paths.step_dir(step_id)
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
        "succeeded": tally.succeeded,
        "created": tally.created,
        "updated": tally.succeeded - tally.created,
        "failed": tally.failed,
        "skipped": tally.skipped,
        "retried": tally.retried,
        "jobs": tally.jobs,
        "seconds": round(tally.seconds, 3),
        "error_codes": dict(sorted(tally.error_codes.items())),
        "files": {kind: paths.relative(folder / f"{kind}.csv") for kind in ("success", "failed", "skipped")},
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


def _reject_reasons(paths: RunPaths) -> list[dict[str, Any]]:
    path = paths.plan_dir / REJECTS_FILE
    if not path.exists():
        return []
    rejects = read_table(path)
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
                "sent": summary.rows,
                "succeeded": sum(s["succeeded"] for s in mine),
                "failed": sum(s["failed"] for s in mine),
                "skipped": sum(s["skipped"] for s in mine),
                "missing_parents": summary.missing_parents,
                "selected": bool(mine),
                **({"masked": summary.masked} if summary.masked else {}),
                **({"generated": summary.generated} if summary.generated else {}),
            }
        )
    pass1 = [s for s in steps if s["pass"] == 1]
    totals = {
        "source_rows": sum(s["source_rows"] for s in sources),
        "filtered": sum(s["filtered"] for s in sources),
        "rejected": sum(s["rejected"] for s in sources),
        "sent": sum(s["rows"] for s in pass1),
        "succeeded": sum(s["succeeded"] for s in pass1),
        "created": sum(s["created"] for s in pass1),
        "updated": sum(s["updated"] for s in pass1),
        "failed": sum(s["failed"] for s in pass1),
        "skipped": sum(s["skipped"] for s in pass1),
        "retried": sum(s["retried"] for s in steps),
        "jobs": sum(s["jobs"] for s in steps),
        "links_failed": sum(s["failed"] + s["skipped"] for s in steps if s["pass"] == 2),
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
        "reject_reasons": _reject_reasons(paths),
        "files": {
            "rejects": f"plan/{REJECTS_FILE}",
            "missing_parents": f"plan/{MISSING_PARENTS_FILE}",
            "report": "report.html",
            "run_results": "run_results.json",
        },
    }


def outcome_exit_code(totals: Mapping[str, int], *, strict: bool) -> int:
    """0: every row sent was loaded (and, with --strict, none was rejected); 1: otherwise."""
    bad = totals["failed"] + totals["skipped"] + totals["links_failed"]
    if strict:
        bad += totals["rejected"]
    return 1 if bad else 0


def summary_path(paths: RunPaths) -> Path:
    return paths.results
