"""Starting, resuming and retrying runs: the glue between plan, run directory, target and executor.

A new run compiles the plan into its own run directory first (so the exact CSVs sent stay with
the run), then executes them. A resumed run re-opens that directory and its checkpoint; nothing
is recompiled, so finished jobs are never sent again. A retry is a new run of the same plan,
recompiled from the current sources (the user may have fixed them) but restricted to the rows
that were rejected, failed or skipped in the original run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.client.bulk2 import Bulk2Client
from migrator.client.http import ApiSession
from migrator.client.ingest import Bulk2Ingest, IngestClient
from migrator.compile.csvio import read_table
from migrator.compile.manifest import REJECTS_FILE, Manifest, read_manifest
from migrator.compile.planner import PlanOptions, RowSelection, compile_plan
from migrator.compile.sources import read_headers
from migrator.config import Target, mask_key, open_target, resolve_target
from migrator.errors import MigratorError, UsageError
from migrator.plan.loader import load_plan
from migrator.run.checkpoint import Checkpoint, load_checkpoint
from migrator.run.executor import Clock, Executor, Interrupted, RunOptions
from migrator.run.results import build_results, outcome_exit_code
from migrator.run.rundir import (
    RunPaths,
    atomic_write_json,
    new_run_id,
    read_json,
    run_paths,
    runs_root,
    utc_iso,
)

Event = Callable[[str, Mapping[str, object]], None]


@dataclass(frozen=True)
class RunRequest:
    plan_path: Path | None = None
    target: str | None = None
    target_overrides: Mapping[str, object] = field(default_factory=dict)  # --api-version, --schema
    variables: Mapping[str, str] = field(default_factory=dict)
    select: tuple[str, ...] = ()
    strict: bool = False
    scale: int = 1  # --scale: generated sources make this many times their rows
    options: RunOptions = field(default_factory=RunOptions)
    resume: str | None = None
    retry_of: str | None = None
    home: Path = Path(".migrator")
    project_dir: Path = Path(".")


@dataclass(frozen=True)
class RunResult:
    """A finished (or stopped) run: its directory and its `run_results.json` as a dict, whose
    totals add up to every row of the plan; `exit_code` is 0, 1 (rows failed) or 2 (could not run)."""

    paths: RunPaths
    results: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return int(self.results["exit_code"])


def select_steps(manifest: Manifest, patterns: Iterable[str]) -> set[str] | None:
    """dbt-style selection: `Account` (its steps), `Account+` (and all that depend on it), `+Task`
    (and all it depends on). Names match plan step names or object names, case-insensitively."""
    patterns = [p.strip() for p in patterns if p.strip()]
    if not patterns:
        return None
    chosen: set[str] = set()
    for pattern in patterns:
        down, up = pattern.endswith("+"), pattern.startswith("+")
        name = pattern.strip("+").lower()
        hits = {s.id for s in manifest.steps if name in (s.step.lower(), s.object.lower())}
        if not hits:
            known = sorted({s.step for s in manifest.steps})
            raise UsageError(f"--select {pattern!r} matches no step (steps: {', '.join(known)})")
        if down:
            hits |= _closure(manifest, hits, downstream=True)
        if up:
            hits |= _closure(manifest, hits, downstream=False)
        chosen |= hits
    return chosen


def _closure(manifest: Manifest, start: set[str], *, downstream: bool) -> set[str]:
    found, frontier = set(start), set(start)
    while frontier:
        if downstream:
            nxt = {s.id for s in manifest.steps if frontier & set(s.depends_on)}
        else:
            nxt = {d for s in manifest.steps if s.id in frontier for d in s.depends_on}
        frontier = nxt - found
        found |= nxt
    return found


def _clients(api: ApiSession) -> dict[str, IngestClient]:
    clients: dict[str, IngestClient] = {"bulk2": Bulk2Ingest(Bulk2Client(api))}
    try:
        from migrator.client.bulk1 import Bulk1Client, Bulk1Ingest  # Bulk API 1.0, where available
    except ImportError:
        return clients
    clients["bulk1"] = Bulk1Ingest(Bulk1Client(api))
    return clients


def _retry_selection(original: RunPaths) -> dict[str, RowSelection]:
    """Rows of the original run that did not load: rejected, failed or skipped, by key and by source row."""
    manifest = read_manifest(original.plan_dir)
    keys: dict[str, set[str]] = {}
    positions: dict[str, set[tuple[str, str]]] = {}

    def add(step: str, frame: Any) -> None:
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
    return {
        step: RowSelection(keys=frozenset(keys.get(step, ())), positions=frozenset(positions.get(step, ())))
        for step in set(keys) | set(positions)
    }


def _new_run(request: RunRequest, now: datetime, on_event: Event, env: Mapping[str, str]
             ) -> tuple[RunPaths, dict[str, Any], Manifest]:
    if request.plan_path is None:
        raise UsageError("a plan file is needed to start a run")
    selection = None
    retry_of = None
    variables = dict(request.variables)
    if request.retry_of is not None:
        original = run_paths(request.home, request.retry_of)
        retry_of = original.run_id
        original_info = read_json(original.run_info)
        variables = {**original_info.get("variables", {}), **variables}
        selection = _retry_selection(original)
    plan = load_plan(request.plan_path, variables, headers=read_headers)
    key = mask_key(request.target, env=env, project_dir=request.project_dir) \
        if any(f.mask for s in plan.objects for f in s.fields) else None
    paths = RunPaths(runs_root(request.home) / new_run_id(now))
    paths.root.mkdir(parents=True)
    options = PlanOptions(out_dir=paths.plan_dir, strict=request.strict, selection=selection, scale=request.scale,
                          mask_key=key)
    manifest = compile_plan(plan, options, on_event)
    info = {
        "run_id": paths.run_id,
        "plan_file": str(request.plan_path),
        "plan_name": plan.name,
        "plan_checksum": plan.checksum,
        "variables": dict(variables),
        "created_at": utc_iso(now),
        "retry_of": retry_of,
        "options": {
            "max_retries": request.options.max_retries,
            "select": list(request.select),
            "send_orphans": request.options.send_orphans,
            "strict": request.strict,
            "concurrency": request.options.concurrency,
            "scale": request.scale,
        },
        "target": {"name": request.target},
    }
    atomic_write_json(paths.run_info, info)
    return paths, info, manifest


def execute(
    request: RunRequest,
    *,
    on_event: Event | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock = Clock(),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    connection: tuple[Target, ApiSession] | None = None,
) -> RunResult:
    """Start (or resume) a run and load it into the target; always leaves run_results.json behind.

    With `connection` (a resolved target and its open session) the run uses it instead of opening
    the target itself: `migrate` runs several plans over the one session that also holds the lock."""
    emit: Event = on_event or (lambda kind, data: None)
    started = now()
    started_tick = clock.monotonic()
    if request.resume:
        paths = run_paths(request.home, request.resume)
        info = read_json(paths.run_info)
        manifest = read_manifest(paths.plan_dir)
        checkpoint = load_checkpoint(paths)
    else:
        paths, info, manifest = _new_run(request, started, emit, dict(env if env is not None else os.environ))
        checkpoint = Checkpoint(run_id=paths.run_id)
    options = info.get("options", {})
    strict = bool(options.get("strict", request.strict))
    select = request.select or tuple(options.get("select") or ())
    selected = select_steps(manifest, select)
    target_name = request.target or (info.get("target") or {}).get("name")
    target = connection[0] if connection else resolve_target(
        target_name,
        cli_overrides={k: v for k, v in request.target_overrides.items() if v},
        env=dict(env if env is not None else os.environ),
        project_dir=request.project_dir,
    )
    session = nullcontext(connection[1]) if connection else open_target(target, data_dir=request.home)
    tallies = {}
    status, error, exit_code = "succeeded", None, 0
    executor: Executor | None = None
    try:
        with session as api:
            info["target"] = _target_info(target, api)
            atomic_write_json(paths.run_info, info)
            executor = Executor(manifest, paths, _clients(api), checkpoint, request.options, clock, emit)
            emit(
                "run_started",
                {
                    "run_id": paths.run_id,
                    "target": info["target"],
                    "steps": [
                        {"id": s.id, "object": s.object, "operation": s.operation, "rows": s.rows}
                        for s in manifest.steps
                        if selected is None or s.id in selected
                    ],
                },
            )
            tallies = executor.run(selected)
    except (KeyboardInterrupt, Interrupted):
        status, exit_code = "interrupted", 130
    except MigratorError as exc:
        status, error, exit_code = "error", str(exc), exc.exit_code
    if executor is not None and status != "succeeded":
        tallies = executor.tally_all(selected)
    finished = now()
    resume = None
    if status in ("interrupted", "error"):
        resume = f"migrator run {info.get('plan_file', '')} --resume {paths.run_id}".replace("  ", " ")
    results = build_results(
        paths=paths,
        manifest=manifest,
        tallies=tallies,
        run_info=info,
        status=status,
        exit_code=exit_code,
        started_at=utc_iso(started),
        finished_at=utc_iso(finished),
        elapsed=clock.monotonic() - started_tick,
        error=error,
        resume_command=resume,
    )
    if status == "succeeded":
        results["exit_code"] = outcome_exit_code(results["totals"], strict=strict)
        if results["exit_code"]:
            results["status"] = "completed_with_failures"
    atomic_write_json(paths.results, results)
    _write_report(paths)
    emit("run_done", {"status": results["status"], "run_id": paths.run_id})
    return RunResult(paths=paths, results=results)


def _target_info(target: Target, api: ApiSession) -> dict[str, Any]:
    """What the run records about its target: never a token or a password."""
    return {
        "name": target.name,
        "kind": target.kind,
        "instance_url": api.instance_url,
        "api_version": target.api_version,
    }


def _write_report(paths: RunPaths) -> None:
    try:
        from migrator.run.report import write_report
    except ImportError:  # pragma: no cover - the report module ships with migrator
        return
    write_report(paths.root)


def load_run(home: Path, run_id: str | None) -> tuple[RunPaths, dict[str, Any] | None, Checkpoint]:
    """A run's paths, its results if it finished writing them, and its checkpoint."""
    paths = run_paths(home, run_id)
    results = read_json(paths.results) if paths.results.exists() else None
    return paths, results, load_checkpoint(paths)
