"""migrator's verbs as plain functions: what the CLI calls, and what other Python code can call.

They take paths and options, return typed results, and never print: progress is reported through
an `on_event(kind, data)` callback so that the CLI can draw progress bars and tests can listen.
Errors are raised as `migrator.errors` exceptions for the caller to present.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from migrator.check import check_command, describe_command
from migrator.check.check_command import CheckOptions, CheckResult
from migrator.check.describe_command import DescribeResult
from migrator.check.names import target_name_check
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.compile.graph import StepNode, to_mermaid
from migrator.compile.manifest import Manifest
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.compile.readers.base import Database
from migrator.compile.shape import shape_problems
from migrator.compile.sources import header_reader
from migrator.config import Target, load_databases, load_targets, mask_key, open_target, resolve_target
from migrator.errors import ConfigError, PlanError, Problem, UsageError
from migrator.extract import copy_command, delete_command, extract_command
from migrator.extract.copy_command import CopyOptions, CopyResult
from migrator.extract.delete_command import DeleteResult
from migrator.extract.extract_command import ExtractResult
from migrator.extract.options import ExtractOptions
from migrator.fake.checks import fake_problems
from migrator.history import admin as history_admin
from migrator.history.admin import BaselineResult, InfoResult, RepairResult
from migrator.history.connect import Settings, settings_for
from migrator.history.dryrun import MigrationCheck
from migrator.history.migrate import MigrateOptions, MigrateResult
from migrator.history.migrate import migrate as run_migrations
from migrator.history.naming import Version
from migrator.plan.checks import PlanCheck
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan
from migrator.plan.project import config_start
from migrator.run import rundir
from migrator.run.checkpoint import Checkpoint
from migrator.run.executor import Clock, RunOptions
from migrator.run.rundir import DEFAULT_HOME, RunPaths, atomic_write_bytes, read_json, resume_command
from migrator.run.runner import COMPILING, RunRequest, RunResult, execute, load_run

Event = Callable[[str, Mapping[str, object]], None]


def parse_variables(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--var NAME=VALUE` options into a mapping; a pair without `=` is a usage error."""
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--var {pair!r}: expected NAME=VALUE")
        variables[name.strip()] = value
    return variables


def default_plan_dir(plan: Plan, home: Path = DEFAULT_HOME) -> Path:
    return home / "plan" / plan.name


@dataclass(frozen=True)
class ValidateResult:
    """A plan that passed every check (and, when `checked_sources`, its source files too), with
    what the checks found doubtful but not wrong (`plan.warnings`); `target` names the target whose
    known objects and fields the names were checked against."""

    plan: Plan
    checked_sources: bool
    target: str | None = None

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return self.plan.warnings


def _target(name: str | None, env: Mapping[str, str] | None, project_dir: Path, **overrides: object) -> Target:
    return resolve_target(name, cli_overrides=overrides, env=dict(env if env is not None else os.environ),
                          project_dir=project_dir)


def _databases(folder: Path, env: Mapping[str, str] | None) -> dict[str, Database]:
    """The `[databases]` SQL sources may name, with their passwords from the environment."""
    return load_databases(folder, dict(env if env is not None else os.environ))


def _names_check(name: str | None, env: Mapping[str, str] | None, project_dir: Path) -> tuple[str | None, PlanCheck]:
    """(target name, the check of the plan's names against what it is known to have): the target
    named, else the one a run would use. Offline: a Salesforce target whose credentials are not at
    hand is still known to be a Salesforce org; with no usable target the standard objects are the
    reference."""
    try:
        resolved: Target | None = _target(name, env, project_dir)
    except ConfigError:
        configured = load_targets(project_dir).get(name or "")
        if name is not None and (configured is None or configured.auth == "local"):
            raise
        resolved = None
    return (resolved.name if resolved else name), target_name_check(resolved)


def validate(
    plan_path: Path | str,
    *,
    variables: Mapping[str, str] | None = None,
    check_sources: bool = False,
    target: str | None = None,
    allow_paths: tuple[Path, ...] = (),
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
) -> ValidateResult:
    """Check a plan: its schema, itself, its load graph and its object and field names against what
    the target is known to have, and with `check_sources` every source file read in full, all in one
    pass (generated sources and masks too: Faker providers, locales, date ranges). Raises PlanError
    with every problem (and warning) found."""
    folder = config_start(Path(plan_path), project_dir)
    checked_against, names = _names_check(target, env, folder)
    headers = header_reader(_databases(folder, env), scan=True) if check_sources else None
    plan = load_plan(plan_path, variables, headers=headers, shape=shape_problems,
                     allow_paths=tuple(allow_paths), extra_checks=(names,))
    if problems := fake_problems(plan):
        raise PlanError(problems)
    return ValidateResult(plan=plan, checked_sources=check_sources, target=checked_against)


@dataclass(frozen=True)
class PlanResult:
    """What `plan` compiled: the manifest and the directory holding its CSV parts and rejects."""

    plan: Plan
    manifest: Manifest
    out_dir: Path

    def mermaid(self) -> str:
        nodes = [
            StepNode(
                id=s.id,
                step=s.step,
                object=s.object,
                pass_no=s.pass_no,
                level=s.level,
                depends_on=s.depends_on,
                wave=s.wave,
            )
            for s in self.manifest.steps
        ]
        labels = {s.id: f"{s.id}<br/>{s.operation} {s.rows} rows" for s in self.manifest.steps}
        return to_mermaid(nodes, labels)


def plan(
    plan_path: Path | str,
    *,
    out_dir: Path | None = None,
    variables: Mapping[str, str] | None = None,
    strict: bool = False,
    scale: int = 1,
    target: str | None = None,
    sources_dir: Path | None = None,
    allow_paths: tuple[Path, ...] = (),
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    on_event: Event | None = None,
) -> PlanResult:
    """The dry run: compile the plan into the exact CSVs a run would send, plus rejects and a manifest.

    `scale` multiplies generated sources; a plan with masks takes its secret from `target`'s
    mask_secret_env or MIGRATOR_MASK_SECRET. `sources_dir` reads the sources from another folder
    laid out like the plan's (an extract's)."""
    config_dir = config_start(Path(plan_path), project_dir)
    _, names = _names_check(target, env, config_dir)
    databases = _databases(config_dir, env)
    loaded = load_plan(plan_path, variables, headers=header_reader(databases), shape=shape_problems,
                       allow_paths=tuple(allow_paths), extra_checks=(names,), sources_dir=sources_dir)
    key = mask_key(target, env=dict(env if env is not None else os.environ), project_dir=config_dir) \
        if any(f.mask for s in loaded.objects for f in s.fields) else None
    out = out_dir or default_plan_dir(loaded)
    manifest = compile_plan(loaded, PlanOptions(out_dir=out, strict=strict, scale=_scale(scale), mask_key=key,
                                                databases=databases), on_event)
    return PlanResult(plan=loaded, manifest=manifest, out_dir=out)


# --- the target's view -----------------------------------------------------------------------


def describe(
    plan_path: Path | str | None = None,
    *,
    target: str | None = None,
    objects: tuple[str, ...] = (),
    out: Path | None = None,
    variables: Mapping[str, str] | None = None,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
) -> DescribeResult:
    """Snapshot the target's schema of the plan's objects (and/or `objects`) as org-schema YAML,
    written to `out` when given (the text is in the result either way)."""
    names = list(objects)
    if plan_path is not None:
        names = describe_command.plan_objects(load_plan(plan_path, variables)) + names
    config_dir = config_start(Path(plan_path), project_dir) if plan_path is not None else project_dir
    result = describe_command.describe(_target(target, env, config_dir), names, data_dir=home)
    if out is not None:
        atomic_write_bytes(Path(out), result.text.encode("utf-8"))
    return result


def check(
    plan_path: Path | str,
    *,
    target: str | None = None,
    schema_files: tuple[Path, ...] = (),
    sources: bool = True,
    out_dir: Path | None = None,
    variables: Mapping[str, str] | None = None,
    strict: bool = False,
    sources_dir: Path | None = None,
    scale: int = 1,
    allow_paths: tuple[Path, ...] = (),
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    on_event: Event | None = None,
) -> CheckResult:
    """The target-aware dry run: the plan against the target's describe (or `schema_files`), the
    rows against its field rules, and, against a live org, its limits and the predicted outcome
    (masked fields compared as they would be sent, with the target's masking secret)."""
    if target is not None and schema_files:
        raise UsageError("check against a --target or against --schema files, not both")
    path = Path(plan_path)
    environment = dict(env if env is not None else os.environ)
    key = mask_key(target, env=environment, project_dir=config_start(path, project_dir)) \
        if sources and _masks(path, variables, allow_paths) else None
    options = CheckOptions(out_dir=out_dir or home / "check" / path.stem, variables=dict(variables or {}),
                           sources=sources, strict=strict, allow_paths=tuple(allow_paths), scale=_scale(scale),
                           mask_key=key, sources_dir=sources_dir,
                           databases=_databases(config_start(path, project_dir), env))
    if schema_files:
        return check_command.check_against_files(schema_files, path, options, on_event)
    timer = clock or Clock()
    resolved = _target(target, env, config_start(path, project_dir))
    return check_command.check_against_target(resolved, path, options, data_dir=home,
                                              timing=QueryTiming(clock=timer.monotonic, sleep=timer.sleep),
                                              on_event=on_event)


def _masks(plan_path: Path, variables: Mapping[str, str] | None, allow_paths: tuple[Path, ...]) -> bool:
    """Whether the plan masks fields (a plan that does not load says nothing: its problems come later)."""
    try:
        plan = load_plan(plan_path, variables, allow_paths=tuple(allow_paths))
    except PlanError:
        return False
    return any(f.mask for s in plan.objects for f in s.fields)


# --- runs ------------------------------------------------------------------------------------


def run_options(max_retries: int, send_orphans: bool, concurrency: int, input_order: bool = False) -> RunOptions:
    """`input_order`: send rows in the order of the sources, and let parts naming the same parents run at
    once (lock-aware loading off)."""
    if max_retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    return RunOptions(max_retries=max_retries, send_orphans=send_orphans, concurrency=max(1, concurrency),
                      lock_aware=not input_order)


def _scale(scale: int) -> int:
    if scale < 1:
        raise UsageError("--scale must be 1 or more")
    return scale


def run(
    plan_path: Path | str | None,
    *,
    target: str | None = None,
    api_version: str | None = None,
    schema_files: tuple[Path, ...] = (),
    variables: Mapping[str, str] | None = None,
    select: tuple[str, ...] = (),
    max_retries: int = 3,
    strict: bool = False,
    scale: int = 1,
    send_orphans: bool = False,
    concurrency: int = 4,
    input_order: bool = False,
    resume: str | None = None,
    check: bool = True,
    changed_only: bool = False,
    sources_dir: Path | None = None,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    allow_paths: tuple[Path, ...] = (),
    on_event: Event | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> RunResult:
    """Compile the plan into a new run directory and load it into the target (or resume a run).

    The target is configured by the migrator.toml beside the plan (or above it); `project_dir` is
    where it is looked for when there is no plan file (a resume of a run whose plan moved). When the
    target serves describe, the plan is first checked against it (`check=False` skips this) and
    nothing is sent if it would fail; `changed_only` sends only the rows that differ from the
    target's current values (as `skip_unchanged: true` does for a step). `sources_dir` reads the
    sources from another folder laid out like the plan's (what `extract --out DIR` wrote). Rows are
    ordered by parent and parts naming the same parents never run at once, unless `input_order`;
    `concurrency` is the most jobs in flight (fewer while the org asks for it)."""
    request = RunRequest(
        plan_path=Path(plan_path) if plan_path else None,
        target=target,
        target_overrides={"api_version": api_version, "schema": tuple(schema_files)},
        variables=dict(variables or {}),
        select=tuple(select),
        strict=strict,
        scale=_scale(scale),
        options=run_options(max_retries, send_orphans, concurrency, input_order),
        resume=resume,
        home=home,
        project_dir=project_dir,
        allow_paths=tuple(allow_paths),
        check=check,
        changed_only=changed_only,
        sources_dir=Path(sources_dir) if sources_dir else None,
    )
    return execute(request, on_event=on_event, env=env, clock=clock or Clock())


def retry(
    run_id: str | None,
    *,
    plan_path: Path | str | None = None,
    target: str | None = None,
    max_retries: int = 3,
    send_orphans: bool = False,
    concurrency: int = 4,
    input_order: bool = False,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    allow_paths: tuple[Path, ...] = (),
    on_event: Event | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> RunResult:
    """A new run that re-sends only the rows of `run_id` that were rejected, failed or skipped,
    recompiled from the current sources (so fixed data is picked up)."""
    original = rundir.run_paths(home, run_id)
    run_info = read_json(original.run_info)
    plan_file = Path(plan_path) if plan_path else Path(run_info["plan_file"])
    request = RunRequest(
        plan_path=plan_file,
        target=target or (run_info.get("target") or {}).get("name"),
        sources_dir=Path(run_info["sources_dir"]) if run_info.get("sources_dir") and not plan_path else None,
        variables=run_info.get("variables", {}),
        strict=bool(run_info["options"].get("strict")),
        scale=int(run_info["options"].get("scale", 1)),
        options=run_options(max_retries, send_orphans, concurrency, input_order),
        retry_of=original.run_id,
        home=home,
        project_dir=project_dir,
        allow_paths=tuple(allow_paths),
    )
    return execute(request, on_event=on_event, env=env, clock=clock or Clock())


@dataclass(frozen=True)
class RunStatus:
    """A run as its directory tells it: results once it finished, else its checkpoint so far.

    `state` of a run without results: ``compiling`` (still compiling, or stopped while compiling:
    nothing was sent, and `--resume` compiles it again) or ``unfinished`` (running, or killed)."""

    paths: RunPaths
    results: dict | None
    checkpoint: Checkpoint
    info: dict
    resume_command: str = ""

    @property
    def state(self) -> str:
        if self.results is not None:
            return str(self.results.get("status"))
        return _unfinished_state(self.info)

    def progress(self) -> list[dict[str, object]]:
        """Per step: parts done and jobs by state, from the checkpoint (useful while a run is going)."""
        rows = []
        for step in self.checkpoint.steps.values():
            jobs = [j for p in step.parts.values() for j in p.jobs]
            rows.append(
                {
                    "step": step.id,
                    "parts": len(step.parts),
                    "parts_done": sum(p.done for p in step.parts.values()),
                    "jobs": len(jobs),
                    "jobs_done": sum(j.done for j in jobs),
                    "done": step.done,
                }
            )
        return rows


def status(run_id: str | None = None, *, home: Path = DEFAULT_HOME) -> RunStatus:
    """What run `run_id` (default: the most recent) did, or how far it has got if it is unfinished."""
    paths, results, checkpoint = load_run(home, run_id)
    return RunStatus(paths=paths, results=results, checkpoint=checkpoint, info=read_json(paths.run_info),
                     resume_command=resume_command(paths.run_id, home))


def _unfinished_state(info: Mapping[str, object]) -> str:
    return "compiling" if info.get("state") == COMPILING else "unfinished"


def list_runs(home: Path = DEFAULT_HOME, limit: int = 20) -> list[dict[str, object]]:
    """The most recent runs under `home`, newest first: id, plan, start time, status, retry of."""
    runs = []
    for paths in rundir.list_runs(home):
        info = read_json(paths.run_info)
        results = read_json(paths.results) if paths.results.exists() else {}
        runs.append(
            {
                "run_id": paths.run_id,
                "plan": info.get("plan_name"),
                "created_at": info.get("created_at"),
                "status": results.get("status") or _unfinished_state(info),
                "retry_of": info.get("retry_of"),
            }
        )
        if len(runs) >= limit:
            break
    return runs


# --- extract, copy, delete ---------------------------------------------------------------------


def extract(
    plan_path: Path | str | None = None,
    *,
    source: str | None = None,
    out_dir: Path | str | None = None,
    select: tuple[str, ...] = (),
    where: tuple[str, ...] = (),
    limit: int | None = None,
    pk_chunking: int | None = None,
    id_ranges: int | None = None,
    workers: int = 4,
    page_rows: int = 100_000,
    variables: Mapping[str, str] | None = None,
    resume: str | None = None,
    strict: bool = False,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    on_event: Event | None = None,
) -> ExtractResult:
    """Read the plan's records from the `source` org and write them as the plan's source files (into
    its sources folder, or `out_dir`), sorted by key, with `extract_manifest.json`. `where` holds
    `OBJECT=CONDITION` pairs (a subset: the objects that look up to it follow, the parents they need
    come too), `limit` the records per root. `resume` (an extract id) finishes a stopped extract."""
    if workers < 1 or page_rows < 1:
        raise UsageError("--workers and --page-rows must be 1 or more")
    if resume is not None and source is None:
        source = (extract_command.resume_info(home, resume).get("source") or {}).get("name")
    options = ExtractOptions(select=tuple(select), where=tuple(where), limit=limit, pk_chunking=pk_chunking,
                             id_ranges=id_ranges, workers=workers, page_rows=page_rows,
                             variables=dict(variables or {}))
    timer = clock or Clock()
    return extract_command.run_extract(
        _target(source, env, project_dir), Path(plan_path) if plan_path else None, options,
        out_dir=Path(out_dir) if out_dir else None, home=home, resume=resume,
        timing=QueryTiming(clock=timer.monotonic, sleep=timer.sleep), emit=on_event or (lambda kind, data: None),
        strict=strict)


def copy(
    plan_path: Path | str | None = None,
    *,
    source: str | None = None,
    target: str | None = None,
    select: tuple[str, ...] = (),
    where: tuple[str, ...] = (),
    limit: int | None = None,
    clean: bool = False,
    yes: bool = False,
    hard_delete: bool = False,
    pk_chunking: int | None = None,
    id_ranges: int | None = None,
    workers: int = 4,
    variables: Mapping[str, str] | None = None,
    max_retries: int = 3,
    concurrency: int = 4,
    strict: bool = False,
    check: bool = True,
    changed_only: bool = False,
    resume: str | None = None,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    on_event: Event | None = None,
) -> CopyResult:
    """Copy the plan's records from the `source` org to the `target` org: an extract (whole objects,
    or the subset `where`/`limit` select, with their closure) and a run of the plan on it, in one run
    directory with one report. With `clean`, the subset's records in the target are found first (by
    key, and each step's `delete_where`) and, only with `yes`, deleted before loading (`hard_delete`:
    hardDelete); without `yes` the copy stops after listing them."""
    if source is None and resume is None:
        raise UsageError("copy needs --from (the org to copy from)")
    if resume is not None:
        info = read_json(copy_command.run_paths_for_copy(home, resume).root / copy_command.COPY_FILE)
        source, target = source or info["from"], target or info["to"]
        saved = info.get("options") or {}
        extract_options = ExtractOptions.from_json(saved.get("extract") or {})
        clean, hard_delete = bool(saved.get("clean")), bool(saved.get("hard"))
        strict, check, changed_only = bool(saved.get("strict")), bool(saved.get("check", True)), \
            bool(saved.get("changed_only"))
    else:
        extract_options = ExtractOptions(select=tuple(select), where=tuple(where), limit=limit,
                                         pk_chunking=pk_chunking, id_ranges=id_ranges, workers=max(1, workers),
                                         variables=dict(variables or {}))
    options = CopyOptions(extract=extract_options, clean=clean, yes=yes, hard=hard_delete, check=check,
                          strict=strict, changed_only=changed_only,
                          run=run_options(max_retries, False, concurrency))
    return copy_command.copy(Path(plan_path) if plan_path else None, _target(source, env, project_dir),
                             _target(target, env, project_dir), options, home=home, resume=resume, clock=clock,
                             emit=on_event, env=env, project_dir=project_dir)


def delete(
    plan_path: Path | str,
    *,
    target: str | None = None,
    select: tuple[str, ...] = (),
    yes: bool = False,
    hard_delete: bool = False,
    variables: Mapping[str, str] | None = None,
    max_retries: int = 3,
    concurrency: int = 4,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    on_event: Event | None = None,
) -> DeleteResult:
    """Delete the plan's records from the target, children first: the records of the keys its sources
    hold, and those each step's `delete_where` selects. Without `yes`, a dry run: what would be
    deleted is counted and listed, nothing is. `hard_delete` uses hardDelete (no recycle bin). A plan
    that masks is compiled with the target's masking secret, so its keys are the ones a run sent."""
    loaded = load_plan(plan_path, variables,
                       headers=header_reader(_databases(config_start(Path(plan_path), project_dir), env)))
    steps = delete_command.steps_of(loaded, tuple(select))
    resolved = _target(target, env, project_dir)
    key = mask_key(resolved.name, env=dict(env if env is not None else os.environ),
                   project_dir=config_start(Path(plan_path), project_dir)) \
        if any(f.mask for s in loaded.objects for f in s.fields) else None
    with open_target(resolved, data_dir=home) as session:
        return delete_command.delete(loaded, resolved, session, steps=steps, yes=yes, hard=hard_delete, home=home,
                                     run_options=run_options(max_retries, False, concurrency), clock=clock,
                                     emit=on_event, mask_key=key)


# --- remote jobs -----------------------------------------------------------------------------


def remote_jobs(
    *,
    target: str | None = None,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    env: Mapping[str, str] | None = None,
    action: str = "list",
    job_ids: tuple[str, ...] = (),
    run_id: str | None = None,
) -> list[dict[str, object]]:
    """List ingest jobs on the target (all, or those of one run), or abort / delete jobs by id."""
    wanted = set(job_ids)
    if run_id is not None:
        _, _, checkpoint = load_run(home, run_id)
        wanted |= {j.job_id for _, j in checkpoint.jobs() if j.job_id}
    resolved = resolve_target(
        target, cli_overrides={}, env=dict(env if env is not None else os.environ), project_dir=project_dir
    )
    with open_target(resolved, data_dir=home) as session:
        client = Bulk2Client(session)
        if action == "list":
            jobs = [job for job in client.list_ingest_jobs() if not wanted or job.id in wanted]
            return [
                {
                    "id": j.id,
                    "object": j.object,
                    "operation": j.operation,
                    "state": j.state,
                    "created": j.created_date,
                    "api": j.job_type,
                }
                for j in jobs
            ]
        done = []
        for job_id in sorted(wanted):
            if action == "abort":
                info = client.abort_job(job_id)
                done.append({"id": job_id, "state": info.state})
            elif action == "delete":
                client.delete_job(job_id)
                done.append({"id": job_id, "state": "deleted"})
            else:
                raise UsageError(f"unknown jobs action {action!r}")
        return done


# --- versioned migrations ----------------------------------------------------------------------


def _history_settings(folder: Path | str | None, history: str | None, target: str | None, home: Path,
                      project_dir: Path, env: Mapping[str, str] | None, clock: Clock | None) -> Settings:
    return settings_for(folder=Path(folder) if folder else None, history=history, target=target, home=home,
                        project_dir=project_dir, env=env, clock=clock)


def migrate(
    *,
    target: str | None = None,
    folder: Path | str | None = None,
    history: str | None = None,
    to: str | None = None,
    dry_run: bool = False,
    out_of_order: bool = False,
    variables: Mapping[str, str] | None = None,
    strict: bool = False,
    max_retries: int = 3,
    concurrency: int = 4,
    lock_wait: float = 0.0,
    check: MigrationCheck | None = None,
    home: Path = DEFAULT_HOME,
    project_dir: Path = Path("."),
    on_event: Event | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> MigrateResult:
    """Apply the pending migrations of the folder to the target's org, in order, each as a run, and
    record each in the org's history; with `dry_run`, check them (`check`, else the planner) instead."""
    try:
        up_to = Version.parse(to) if to else None
    except ValueError as exc:
        raise UsageError(f"--to: {exc}") from None
    settings = _history_settings(folder, history, target, home, project_dir, env, clock)
    options = MigrateOptions(to=up_to, dry_run=dry_run, out_of_order=out_of_order, variables=dict(variables or {}),
                             strict=strict, run_options=run_options(max_retries, False, concurrency),
                             lock_wait=lock_wait)
    return run_migrations(settings, options, check=check, on_event=on_event)


def info(*, target: str | None = None, folder: Path | str | None = None, history: str | None = None,
         variables: Mapping[str, str] | None = None, home: Path = DEFAULT_HOME, project_dir: Path = Path("."),
         env: Mapping[str, str] | None = None) -> InfoResult:
    """The target org's migration history: every entry with its state, then what is pending."""
    settings = _history_settings(folder, history, target, home, project_dir, env, None)
    return history_admin.info(settings, variables=variables)


def baseline(version: str, *, target: str | None = None, folder: Path | str | None = None,
             history: str | None = None, description: str | None = None, lock_wait: float = 0.0,
             home: Path = DEFAULT_HOME, project_dir: Path = Path("."), env: Mapping[str, str] | None = None,
             clock: Clock | None = None) -> BaselineResult:
    """Start the history of an org loaded before migrator: migrations up to `version` count as applied."""
    settings = _history_settings(folder, history, target, home, project_dir, env, clock)
    return history_admin.baseline(settings, version, description=description, lock_wait=lock_wait)


def repair(*, target: str | None = None, folder: Path | str | None = None, history: str | None = None,
           release_lock: bool = False, variables: Mapping[str, str] | None = None, lock_wait: float = 0.0,
           home: Path = DEFAULT_HOME, project_dir: Path = Path("."), env: Mapping[str, str] | None = None,
           clock: Clock | None = None) -> RepairResult:
    """Accept changed checksums, clear failed entries, mark vanished migrations deleted (and with
    `release_lock`, break a stale history lock first)."""
    settings = _history_settings(folder, history, target, home, project_dir, env, clock)
    return history_admin.repair(settings, release_lock=release_lock, variables=variables, lock_wait=lock_wait)
