"""`migrator copy PLAN --from A --to B`: an extract of A and a run into B, in one run directory.

    .migrator/runs/<run_id>/
        copy.json           what was asked: plan, source, target, options (no secrets)
        extract/            the extract's state and downloaded pages (resumable)
        sources/            the plan's source files as extracted from A (what the run loads)
        clean/              with --clean: the records found in B (lists), and the delete run
        run.json, plan/, steps/, run_results.json, report.html      the run into B, as for `run`

The run loads the extracted files with the plan itself (`--sources-dir`), so every key, lookup,
record type and owner travels the way the plan says; `run_results.json` and the report gain a
`copy` section: the source, the rows extracted per step, and what the cleanup deleted. Copying again
updates instead of duplicating (upserts by the plan's keys). Interrupted, `copy --resume RUN_ID`
finishes the extract (without downloading finished pages again) and then the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrator.client.bulk2_query import QueryTiming
from migrator.client.http import ApiSession
from migrator.compile.fakeinputs import FakeInputs
from migrator.compile.sources import read_headers
from migrator.config import Target, mask_key, open_target
from migrator.errors import Interrupted, RunStateError, UsageError
from migrator.extract import delete_command
from migrator.extract.delete_command import DeleteResult
from migrator.extract.extract_command import ExtractResult, extract, plan_for, prepare
from migrator.extract.options import ExtractOptions, StepFile
from migrator.extract.state import ExtractPaths
from migrator.fake.masks import MaskKey
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan
from migrator.plan.project import config_start
from migrator.run.executor import Clock, RunOptions
from migrator.run.report import write_report
from migrator.run.rundir import DEFAULT_HOME, RunPaths, atomic_write_json, new_run_id, read_json, run_paths, runs_root
from migrator.run.runner import RunRequest, RunResult, execute

Event = Callable[[str, Mapping[str, object]], None]
COPY_FILE = "copy.json"


@dataclass(frozen=True)
class CopyOptions:
    extract: ExtractOptions
    clean: bool = False
    yes: bool = False
    hard: bool = False
    check: bool = True
    strict: bool = False
    changed_only: bool = False
    run: RunOptions = field(default_factory=RunOptions)

    def to_json(self) -> dict[str, Any]:
        return {"extract": self.extract.to_json(), "clean": self.clean, "hard": self.hard, "check": self.check,
                "strict": self.strict, "changed_only": self.changed_only}


@dataclass(frozen=True)
class CopyResult:
    """A copy: its run directory, the extract, the cleanup (if asked) and the run (None when a
    cleanup was only a dry run: nothing was deleted or loaded)."""

    run_dir: Path
    source: str
    target: str
    extract: ExtractResult
    clean: DeleteResult | None
    run: RunResult | None

    @property
    def exit_code(self) -> int:
        codes = [self.run.exit_code if self.run is not None else 0]
        if self.clean is not None:
            codes.append(self.clean.exit_code)
        return max(codes)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.exit_code == 0, "exit_code": self.exit_code, "run_id": self.run_dir.name,
                "run_dir": str(self.run_dir), "from": self.source, "to": self.target,
                "extract": self.extract.to_json(), "clean": self.clean.to_json() if self.clean else None,
                "run": self.run.results if self.run is not None else None}


def copy_section(result: ExtractResult, clean: DeleteResult | None, run_dir: Path, source: str) -> dict[str, Any]:
    """What the run's results and report say about the copy (paths relative to the run directory)."""
    def relative(path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(run_dir.resolve()).as_posix()
        except ValueError:
            return str(path)

    section: dict[str, Any] = {
        "source": source, "extract_id": result.extract_id, "rows": result.rows,
        "manifest": relative(result.out_dir / "extract_manifest.json"), "warnings": result.warnings,
        "steps": [{"step": f.step, "object": f.object, "rows": f.rows, "mode": f.mode, "file": relative(f.file)}
                  for f in result.files],
        "selection": result.manifest.get("selection"),
    }
    if clean is not None:
        run = clean.run
        section["clean"] = {
            "operation": "hardDelete" if clean.hard else "delete", "records": clean.records,
            "run_id": run.paths.run_id if run else None,
            "report": relative(run.paths.report) if run else None,
            "steps": [{**s.to_json(clean.deleted(s.step)),
                       "files": {kind: relative(run.paths.root / path)
                                 for kind, path in step_files(run, s.step).items()} if run else {}}
                      for s in clean.found],
        }
    return section


def step_files(run: RunResult, step: str) -> dict[str, str]:
    for entry in run.results.get("steps", []):
        if entry.get("step") == step:
            return dict(entry.get("files") or {})
    return {}


def _record(run: RunResult, section: dict[str, Any]) -> RunResult:
    """The run's results and report with the copy's section added."""
    results = {**run.results, "copy": section}
    atomic_write_json(run.paths.results, results)
    write_report(run.paths.root)
    return RunResult(paths=run.paths, results=results)


def _clean(plan_path: Path, options: CopyOptions, paths: RunPaths, sources: Path, target: Target,
           session: ApiSession, clock: Clock, emit: Event, key: MaskKey | None) -> DeleteResult:
    """The subset's records in the target (by the keys extracted, and each step's delete_where):
    listed, and with `yes` deleted by a run kept under clean/."""
    plan = load_plan(plan_path, options.extract.variables, headers=read_headers, sources_dir=sources)
    folder = paths.root / "clean"
    keys = delete_command.plan_keys(plan, folder / ".compiled", mask_key=key)
    timing = QueryTiming(clock=clock.monotonic, sleep=clock.sleep)
    steps = delete_command.steps_of(plan, options.extract.select) if options.extract.select else None
    found = delete_command.find_records(plan, keys, session, timing, steps)
    delete_command.write_lists(found, folder / "found")
    if not options.yes:
        return DeleteResult(plan.name, target.name, tuple(found), folder / "found", dry_run=True, hard=options.hard)
    run = delete_command.delete_found(plan, found, target, session, hard=options.hard, home=folder,
                                      run_options=options.run, clock=clock, emit=emit)
    return DeleteResult(plan.name, target.name, tuple(found), folder / "found", dry_run=False, hard=options.hard,
                        run=run)


def copy(plan_path: Path | None, source: Target, target: Target, options: CopyOptions, *, home: Path = DEFAULT_HOME,
         resume: str | None = None, clock: Clock | None = None, emit: Event | None = None,
         now: datetime | None = None, env: Mapping[str, str] | None = None,
         project_dir: Path = Path(".")) -> CopyResult:
    """Extract `plan_path`'s records from `source` and load them into `target` (see the module docstring).

    A plan that masks fields masks them as `run` does, with the target's secret (its mask_secret_env,
    else MIGRATOR_MASK_SECRET from `env`): a copy without the secret stops before reading anything."""
    environment = dict(env if env is not None else os.environ)
    timer = clock or Clock()
    notify: Event = emit or (lambda kind, data: None)
    timing = QueryTiming(clock=timer.monotonic, sleep=timer.sleep)
    if resume is not None:
        paths = run_paths_for_copy(home, resume)
        info = read_json(paths.root / COPY_FILE)
        plan_path = Path(info["plan_file"])
    elif plan_path is None:
        raise UsageError("give a PLAN_FILE, or --resume RUN_ID")
    if source.name == target.name and source.local_db == target.local_db:
        raise UsageError(f"--from and --to name the same org ({source.name}): a copy needs two orgs")
    with open_target(source, data_dir=home) as from_session, open_target(target, data_dir=home) as to_session:
        if resume is None:
            paths = RunPaths(runs_root(home) / new_run_id(now or datetime.now(UTC)))
            try:  # a copy that cannot start leaves nothing behind
                plan = plan_for(plan_path, options.extract.variables, paths.root / "sources")
                prepare(plan, from_session, source.name, options.extract)
                key = _mask_key_for(plan, plan_path, target, environment, project_dir)
            except BaseException:
                shutil.rmtree(paths.root, ignore_errors=True)
                raise
            atomic_write_json(paths.root / COPY_FILE, {
                "plan_file": str(plan_path), "from": source.name, "to": target.name, "options": options.to_json(),
                "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds")})
        else:
            plan = plan_for(plan_path, options.extract.variables, paths.root / "sources")
            key = _mask_key_for(plan, plan_path, target, environment, project_dir)
        if paths.run_info.exists():  # the extract was done and the run started: finish the run
            return _resume_run(paths, source, target, to_session, home, options, timer, notify, environment)
        sources = paths.root / "sources"
        try:
            extracted = extract(plan, from_session, source.name, options.extract, ExtractPaths(paths.root / "extract"),
                                sources, timing=timing, emit=notify, now=now, strict=options.strict)
        except KeyboardInterrupt:
            raise Interrupted(f"copy {paths.run_id} stopped while extracting; resume with: "
                              f"migrator copy --resume {paths.run_id}") from None
        clean = (_clean(plan_path, options, paths, sources, target, to_session, timer, notify, key)
                 if options.clean else None)
        if clean is not None and clean.dry_run:
            return CopyResult(paths.root, source.name, target.name, extracted, clean, None)
        section = copy_section(extracted, clean, paths.root, source.name)
        atomic_write_json(paths.root / COPY_FILE, {**read_json(paths.root / COPY_FILE), "section": section})
        request = RunRequest(plan_path=plan_path, target=target.name, sources_dir=sources, run_id=paths.run_id,
                             variables=dict(options.extract.variables), select=options.extract.select,
                             strict=options.strict, options=options.run, home=home, check=options.check,
                             changed_only=options.changed_only)
        run = execute(request, on_event=notify, env=environment, clock=timer, connection=(target, to_session))
        return CopyResult(paths.root, source.name, target.name, extracted, clean, _record(run, section))


def _mask_key_for(plan: Plan, plan_path: Path, target: Target, env: Mapping[str, str],
                  project_dir: Path) -> MaskKey | None:
    """The target's masking secret for a plan that masks (None for one that does not). A masking copy
    without its secret (or with a mask Faker cannot make) is refused here, before anything is read:
    the run would refuse it only after the whole extract."""
    if not any(f.mask for s in plan.objects for f in s.fields):
        return None
    key = mask_key(target.name, env=env, project_dir=config_start(plan_path, project_dir))
    FakeInputs(plan, mask_key=key)
    return key


def run_paths_for_copy(home: Path, run_id: str) -> RunPaths:
    paths = RunPaths(runs_root(home) / run_id)
    if not (paths.root / COPY_FILE).exists():
        raise RunStateError(f"no copy {run_id!r} in {runs_root(home)} (use `migrator run --resume` for runs)")
    return paths


def _resume_run(paths: RunPaths, source: Target, target: Target, session: ApiSession, home: Path,
                options: CopyOptions, clock: Clock, emit: Event, env: Mapping[str, str]) -> CopyResult:
    """A copy stopped while loading: the run resumes from its checkpoint, and keeps the copy's section."""
    run_paths(home, paths.run_id)
    run = execute(RunRequest(resume=paths.run_id, home=home, options=options.run), on_event=emit, env=env,
                  clock=clock, connection=(target, session))
    info = read_json(paths.root / COPY_FILE)
    sources = paths.root / "sources"
    document = read_json(sources / "extract_manifest.json")
    files = tuple(StepFile(s["step"], s["object"], sources / s["file"], int(s["rows"]), s.get("mode", "whole"))
                  for s in document.get("steps", []))
    extracted = ExtractResult(read_json(paths.root / "extract" / "extract.json")["extract_id"],
                              paths.root / "extract", sources, document, files)
    section = info.get("section") or copy_section(extracted, None, paths.root, source.name)
    return CopyResult(paths.root, source.name, target.name, extracted, None, _record(run, section))
