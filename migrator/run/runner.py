"""Starting, resuming and retrying runs: the glue between plan, run directory, target and executor.

A new run compiles the plan into its own run directory first (so the exact CSVs sent stay with
the run), then executes them. A resumed run re-opens that directory and its checkpoint; nothing
is recompiled, so finished jobs are never sent again (unless the run was stopped while compiling:
nothing was sent then, so the plan is compiled again). A retry is a new run of the same plan,
recompiled from the current sources (the user may have fixed them) but restricted to the rows
that were rejected, failed or skipped in the original run (see `retry`).

A run that cannot start leaves nothing behind: the plan, `--select`, the target and its
credentials are all checked before the run directory exists, and so is the plan against the
target's describe (check/, unless `--no-check`); a plan that fails to compile, or whose load would
not fit in the org's daily limits, takes its directory with it. The compile applies the target's
field rules and record types, and a changed-only run drops the rows the target already holds
before anything is sent. Once a run has its compiled plan, it always ends with
`run_results.json`, whatever stops it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.check.preflight import RunPreflight, limit_problems, load_for_run, skip_unchanged
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.client.http import ApiSession, CallMeter
from migrator.client.ingest import Bulk2Ingest, IngestClient
from migrator.client.rest_files import RestFilesIngest
from migrator.client.rest_query import query_records
from migrator.compile.binary_files import size_summary
from migrator.compile.cache import COMPILE_DIR, compile_cached
from migrator.compile.manifest import MANIFEST_FILE, Manifest, read_manifest
from migrator.compile.planner import PlanOptions, RowSelection
from migrator.compile.readers.base import Database
from migrator.compile.shape import shape_problems
from migrator.compile.sources import header_reader
from migrator.config import Target, load_databases, mask_key, open_target, resolve_target
from migrator.errors import CheckFailed, Interrupted, MigratorError, UsageError
from migrator.fake.masks import MaskKey
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan
from migrator.plan.project import config_start
from migrator.run.checkpoint import Checkpoint, load_checkpoint
from migrator.run.executor import Clock, Executor, RunOptions
from migrator.run.results import build_results, run_outcome
from migrator.run.retry import check_retryable, retry_selection
from migrator.run.rundir import (
    DEFAULT_HOME,
    RunPaths,
    atomic_write_json,
    new_run_id,
    read_json,
    resume_command,
    run_paths,
    runs_root,
    utc_iso,
)
from migrator.run.selection import check_selection, select_steps

__all__ = ["RunRequest", "RunResult", "execute", "load_run", "select_steps"]

Event = Callable[[str, Mapping[str, object]], None]

COMPILING, COMPILED = "compiling", "compiled"  # run.json `state`: a run killed while compiling says so


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
    home: Path = DEFAULT_HOME
    project_dir: Path = Path(".")  # where migrator.toml is looked for (upward) when there is no plan file
    allow_paths: tuple[Path, ...] = ()  # folders outside the plan's project its sources may be read from
    check: bool = True  # check the plan against the target's describe before sending (--no-check: off)
    changed_only: bool = False  # send only rows that differ from the target (--changed-only)
    sources_dir: Path | None = None  # read the sources from this folder, laid out like the plan's
    run_id: str | None = None  # a new run in this run directory, which may exist already (a copy's extract)


@dataclass(frozen=True)
class RunResult:
    """A finished (or stopped) run: its directory and its `run_results.json` as a dict, whose
    totals add up to every row of the plan; `exit_code` is 0, 1 (rows failed or nothing was sent),
    2 (could not run) or 130 (interrupted). `manifest` is the compiled plan that was sent (its
    source warnings are shown with the summary, as `plan` shows them)."""

    paths: RunPaths
    results: dict[str, Any]
    manifest: Manifest | None = None

    @property
    def exit_code(self) -> int:
        return int(self.results["exit_code"])


@dataclass(frozen=True)
class _NewRun:
    """A new run's inputs, all checked before its directory is created."""

    plan: Plan
    variables: dict[str, str]
    selection: dict[str, RowSelection] | None
    retry_of: str | None
    allow_paths: tuple[Path, ...] = ()
    mask_key: MaskKey | None = field(default=None, repr=False)  # the masking secret: memory only


def _clients(api: ApiSession, rest_jobs: Path) -> dict[str, IngestClient]:
    """The bulk APIs, and REST for files too big for a ZIP batch (its results kept in `rest_jobs`)."""
    clients: dict[str, IngestClient] = {"bulk2": Bulk2Ingest(Bulk2Client(api)),
                                        "rest": RestFilesIngest(api, rest_jobs)}
    try:
        from migrator.client.bulk1 import Bulk1Client, Bulk1Ingest  # Bulk API 1.0, where available
    except ImportError:
        return clients
    clients["bulk1"] = Bulk1Ingest(Bulk1Client(api))
    return clients


def _mask_key(plan: Plan, target: str | None, config_dir: Path, env: Mapping[str, str]) -> MaskKey | None:
    """The target's masking secret, for a plan that masks (None for one that does not), from the
    migrator.toml the target itself is configured by."""
    if not any(f.mask for s in plan.objects for f in s.fields):
        return None
    return mask_key(target, env=env, project_dir=config_dir)


def _prepare_new(request: RunRequest, env: Mapping[str, str], databases: Mapping[str, Database]) -> _NewRun:
    if request.plan_path is None:
        raise UsageError("a plan file is needed to start a run")
    variables, selection, retry_of = dict(request.variables), None, None
    allow_paths = tuple(request.allow_paths)
    if request.retry_of is not None:
        original = run_paths(request.home, request.retry_of)
        check_retryable(original, resume_command(original.run_id, request.home))
        retry_of = original.run_id
        original_info = read_json(original.run_info)
        variables = {**original_info.get("variables", {}), **variables}
        selection = retry_selection(original)
        allow_paths = allow_paths or _allowed(original_info)
    plan = load_plan(request.plan_path, variables, headers=header_reader(databases), shape=shape_problems,
                     allow_paths=allow_paths, sources_dir=request.sources_dir)
    check_selection(plan, request.select)
    return _NewRun(plan=plan, variables=variables, selection=selection, retry_of=retry_of, allow_paths=allow_paths,
                   mask_key=_mask_key(plan, request.target, _config_folder(request, {}), env))


def _allowed(info: Mapping[str, Any]) -> tuple[Path, ...]:
    """The --allow-path folders a run was started with (a retry or a recompile reads the same files)."""
    return tuple(Path(p) for p in (info.get("options") or {}).get("allow_paths", ()))


def _compile(paths: RunPaths, preflight: RunPreflight, strict: bool, selection: Mapping[str, RowSelection] | None,
             emit: Event, api: ApiSession, target: Target, changed_only: bool, clock: Clock, *, home: Path,
             scale: int = 1, key: MaskKey | None = None, databases: Mapping[str, Database] | None = None,
             run_options: RunOptions = RunOptions()) -> Manifest:
    """Compile with the target's rules (or copy the cached compile of the same inputs), drop what a
    changed-only load need not send, and refuse a load the day's limits cannot take. Parts are cut
    for the run's concurrency and ordered by parent unless lock-aware loading is off."""
    for leftover in paths.root.glob(".plan.*"):  # the staging folder of a compile that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    options = PlanOptions(out_dir=paths.plan_dir, strict=strict, selection=selection, rules=preflight.rules,
                          scale=scale, mask_key=key, databases=databases or {},
                          parallel_parts=max(1, run_options.concurrency), lock_order=run_options.lock_aware)
    manifest, _ = compile_cached(preflight.plan, options, home / COMPILE_DIR, emit)
    unchanged_steps = [s.name for s in preflight.plan.objects if changed_only or s.skip_unchanged]
    if unchanged_steps:
        emit("comparing", {"steps": unchanged_steps})
        manifest = skip_unchanged(manifest, paths.plan_dir, api, preflight, unchanged_steps,
                                  QueryTiming(clock=clock.monotonic, sleep=clock.sleep), target.name, home)
    over = limit_problems(manifest, api) if preflight.checked else []
    if over:
        raise CheckFailed(over, target=target.name)
    return manifest


def _start(request: RunRequest, new: _NewRun, now: datetime, emit: Event, api: ApiSession, target: Target,
           clock: Clock, databases: Mapping[str, Database]) -> tuple[RunPaths, dict[str, Any], Manifest]:
    preflight = load_for_run(api, request.plan_path, new.variables, check=request.check, target=target.name,
                             plan=new.plan, allow_paths=new.allow_paths, sources_dir=request.sources_dir,
                             databases=databases)
    changed_only = request.changed_only or any(s.skip_unchanged for s in new.plan.objects)
    paths = RunPaths(runs_root(request.home) / (request.run_id or new_run_id(now)))
    paths.root.mkdir(parents=True, exist_ok=request.run_id is not None)
    info = {
        "run_id": paths.run_id,
        "plan_file": str(request.plan_path),
        "sources_dir": str(request.sources_dir) if request.sources_dir else None,
        "plan_name": new.plan.name,
        "plan_checksum": new.plan.checksum,
        "variables": dict(new.variables),
        "created_at": utc_iso(now),
        "retry_of": new.retry_of,
        "state": COMPILING,
        "options": {
            "max_retries": request.options.max_retries,
            "select": list(request.select),
            "send_orphans": request.options.send_orphans,
            "strict": request.strict,
            "concurrency": request.options.concurrency,
            "lock_aware": request.options.lock_aware,
            "allow_paths": [str(p.resolve()) for p in new.allow_paths],
            "check": preflight.checked,
            "changed_only": changed_only,
            "scale": request.scale,
        },
        "target": {"name": request.target},
    }
    atomic_write_json(paths.run_info, info)  # from here on a kill leaves a run that --resume recompiles
    try:
        manifest = _compile(paths, preflight, request.strict, new.selection, emit, api, target, request.changed_only,
                            clock, home=request.home, scale=request.scale, key=new.mask_key, databases=databases,
                            run_options=request.options)
        select_steps(manifest, request.select)
    except KeyboardInterrupt:
        _remove_run(paths, shared=request.run_id is not None)
        raise Interrupted(f"interrupted while compiling the plan: nothing was sent, and run {paths.run_id} "
                          "was removed") from None
    except BaseException:
        _remove_run(paths, shared=request.run_id is not None)  # it never started: leave nothing behind
        raise
    info["state"] = COMPILED
    atomic_write_json(paths.run_info, info)
    return paths, info, manifest


def _remove_run(paths: RunPaths, *, shared: bool) -> None:
    """Remove what a run that never started created; in a directory it shares (a copy's, holding the
    extract) only its own files."""
    if not shared:
        shutil.rmtree(paths.root, ignore_errors=True)
        return
    shutil.rmtree(paths.plan_dir, ignore_errors=True)
    for leftover in paths.root.glob(".plan.*"):
        shutil.rmtree(leftover, ignore_errors=True)
    paths.run_info.unlink(missing_ok=True)


def _compiled(request: RunRequest, paths: RunPaths, info: dict[str, Any], emit: Event, api: ApiSession,
              target: Target, clock: Clock, env: Mapping[str, str], databases: Mapping[str, Database]) -> Manifest:
    """The run's compiled plan; compiled again if the run was stopped while compiling (nothing was sent)."""
    if (paths.plan_dir / MANIFEST_FILE).exists():
        return read_manifest(paths.plan_dir)
    emit("recompiling", {"run_id": paths.run_id})
    options = info.get("options") or {}
    sources_dir = Path(info["sources_dir"]) if info.get("sources_dir") else None
    preflight = load_for_run(api, Path(info["plan_file"]), info.get("variables") or {},
                             check=bool(options.get("check", request.check)), target=target.name,
                             allow_paths=_allowed(info), sources_dir=sources_dir, databases=databases)
    plan = preflight.plan
    selection = retry_selection(run_paths(request.home, info["retry_of"])) if info.get("retry_of") else None
    key = _mask_key(plan, request.target or (info.get("target") or {}).get("name"), _config_folder(request, info), env)
    try:
        manifest = _compile(paths, preflight, bool(options.get("strict")), selection, emit, api, target,
                            bool(options.get("changed_only")), clock, home=request.home,
                            scale=int(options.get("scale", 1)), key=key, databases=databases,
                            run_options=request.options)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted while compiling the plan of run {paths.run_id}: nothing was sent; "
                          f"resume with: {resume_command(paths.run_id, request.home)}") from None
    info.update(state=COMPILED, plan_name=plan.name, plan_checksum=plan.checksum)
    return manifest


def execute(
    request: RunRequest,
    *,
    on_event: Event | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock = Clock(),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    connection: tuple[Target, ApiSession] | None = None,
) -> RunResult:
    """Start (or resume) a run and load it into the target.

    Raises (leaving nothing behind) when the run cannot start; once it has started, returns its
    results whatever happens, with run_results.json and report.html written.

    With `connection` (a resolved target and its open session) the run uses it instead of opening
    the target itself: `migrate` runs several plans over the one session that also holds the lock."""
    emit: Event = on_event or (lambda kind, data: None)
    started = now()
    started_tick = clock.monotonic()
    paths: RunPaths | None = None
    info: dict[str, Any] = {}
    new: _NewRun | None = None
    environment = dict(env if env is not None else os.environ)
    if request.resume:
        paths = run_paths(request.home, request.resume)
        info = read_json(paths.run_info)
    databases = load_databases(_config_folder(request, info), environment)
    if not request.resume:
        new = _prepare_new(request, environment, databases)
    target = connection[0] if connection else resolve_target(
        request.target or (info.get("target") or {}).get("name"),
        cli_overrides={k: v for k, v in request.target_overrides.items() if v},
        env=environment,
        project_dir=_config_folder(request, info),
    )
    session = nullcontext(connection[1]) if connection else open_target(target, data_dir=request.home)
    with ExitStack() as stack:
        api = stack.enter_context(session)
        checks = CallMeter()  # the calls made before loading: describe and limits checks, comparisons
        with api.metered(checks):
            if new is not None:
                paths, info, manifest = _start(request, new, started, emit, api, target, clock, databases)
            else:
                assert paths is not None
                manifest = _compiled(request, paths, info, emit, api, target, clock, environment, databases)
            info["target"] = _target_info(target, api)
        atomic_write_json(paths.run_info, info)
        return _load(request, paths, info, manifest, api, emit, clock, (started, started_tick), now,
                     calls_before_loading=checks.total)
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow errors


def _load(request: RunRequest, paths: RunPaths, info: dict[str, Any], manifest: Manifest, api: ApiSession,
          emit: Event, clock: Clock, start: tuple[datetime, float], now: Callable[[], datetime], *,
          calls_before_loading: int = 0) -> RunResult:
    """Send the compiled plan; always ends with run_results.json and report.html.

    `calls_before_loading`: the API calls the run made before its first job (checks against the
    target); they are reported beside the calls each step used."""
    options = info.get("options", {})
    strict = bool(options.get("strict", request.strict))
    selected = select_steps(manifest, request.select or tuple(options.get("select") or ()))
    meter = CallMeter()
    executor = Executor(manifest, paths, _clients(api, paths.root / "rest-jobs"), load_checkpoint(paths),
                        request.options, clock, emit, meter=meter, query=lambda soql: query_records(api, soql))
    emit("run_started", {
        "run_id": paths.run_id,
        "target": info["target"],
        "steps": [{"id": s.id, "object": s.object, "operation": s.operation, "rows": s.rows}
                  for s in manifest.steps if selected is None or s.id in selected],
        "files": size_summary(manifest.sources),  # what the binary fields send, before any of it is sent
    })
    status, error, exit_code = "succeeded", None, 0
    loading = clock.monotonic()
    try:
        with api.metered(meter):
            tallies = executor.run(selected)
    except (KeyboardInterrupt, Interrupted):
        status, exit_code = "interrupted", Interrupted.exit_code
    except MigratorError as exc:
        status, error, exit_code = "error", str(exc), exc.exit_code
    if status != "succeeded":
        tallies = executor.tally_all(selected)
    results = build_results(
        paths=paths,
        manifest=manifest,
        tallies=tallies,
        run_info=info,
        status=status,
        exit_code=exit_code,
        started_at=utc_iso(start[0]),
        finished_at=utc_iso(now()),
        elapsed=clock.monotonic() - start[1],
        error=error,
        resume_command=resume_command(paths.run_id, request.home) if status != "succeeded" else None,
    )
    results["concurrency"] = executor.concurrency()
    # how the run's time splits: compiling (and opening the target) before the first job, then loading
    results["timing"] = {"before_loading_seconds": round(loading - start[1], 3),
                         "loading_seconds": round(clock.monotonic() - loading, 3)}
    results["api_calls_before_loading"] = calls_before_loading
    if status == "succeeded":
        results["status"], results["exit_code"] = run_outcome(results["totals"], strict=strict)
    atomic_write_json(paths.results, results)
    _write_report(paths)
    emit("run_done", {"status": results["status"], "run_id": paths.run_id})
    return RunResult(paths=paths, results=results, manifest=manifest)


def _config_folder(request: RunRequest, info: Mapping[str, Any]) -> Path:
    """Where the run's migrator.toml is looked for: beside its plan (then upward), as when it started."""
    plan_file = request.plan_path or (Path(info["plan_file"]) if info.get("plan_file") else None)
    return config_start(plan_file, request.project_dir)


def _target_info(target: Target, api: ApiSession) -> dict[str, Any]:
    """What the run records about its target, and the configuration file it came from: never a
    token or a password."""
    return {
        "name": target.name,
        "kind": target.kind,
        "instance_url": api.instance_url,
        "api_version": target.api_version,
        "description": target.describe(),
        "config_file": target.config_file,
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
