"""`migrator check`: the target-aware dry run.

1. The plan is loaded and checked against itself and against the target's schema (a live describe,
   kept for the command, or snapshot files): every problem at once, each with the plan's file:line.
2. With the sources, it is compiled with the target's row rules, so values the org would refuse are
   rejects with their source file, line, field and value, in the same rejects file as the planner's.
3. Against a live org: the daily limits the load needs against what is left, and the prediction,
   per step, of rows created, updated, unchanged, deleted or not found, from the target's records
   for the plan's keys.

Exit code: 0 when nothing would be refused, 1 when some rows would be, 2 when the plan cannot run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.check.current import CurrentRecords
from migrator.check.describe import LiveDescribe
from migrator.check.limits import LimitUse, limit_uses
from migrator.check.predict import StepForecast, forecast
from migrator.check.record_cache import org_cache
from migrator.check.rules import step_rules
from migrator.check.schema_checks import SchemaSource, SnapshotSource, TargetCheck
from migrator.check.snapshot import load_schema_files
from migrator.check.targetdiff import diff_steps
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.client.rest import RestClient
from migrator.compile.csvio import read_table
from migrator.compile.manifest import REJECTS_FILE, Manifest
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.compile.readers.base import Database
from migrator.compile.shape import shape_problems
from migrator.compile.sources import header_reader
from migrator.config import Target, open_target
from migrator.errors import PlanError, Problem
from migrator.fake.masks import MaskKey
from migrator.plan.loader import load_plan, unreported

Event = Callable[[str, Mapping[str, object]], None]
REJECT_EXAMPLES = 50


@dataclass(frozen=True)
class CheckOptions:
    out_dir: Path
    variables: Mapping[str, str] = field(default_factory=dict)
    sources: bool = True
    strict: bool = False
    sources_dir: Path | None = None  # the sources in another folder laid out like the plan's
    allow_paths: tuple[Path, ...] = ()  # folders outside the plan's project its sources may be read from
    scale: int = 1  # generated sources, as `run --scale` makes them
    mask_key: MaskKey | None = field(default=None, repr=False)  # masked fields are compared as they would be sent
    databases: Mapping[str, Database] = field(default_factory=dict)  # what SQL sources name (from migrator.toml)


@dataclass(frozen=True)
class CheckResult:
    """What the check found. `problems` mean the plan cannot run; rejects and rows not found mean
    some rows would be refused."""

    plan_name: str
    target: str
    live: bool
    problems: tuple[Problem, ...]
    manifest: Manifest | None = None
    out_dir: Path | None = None
    rejects: tuple[dict[str, str], ...] = ()
    limits: tuple[LimitUse, ...] = ()
    forecast: tuple[StepForecast, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def refused_rows(self) -> int:
        rejected = self.manifest.rejects if self.manifest else 0
        return rejected + sum(f.not_found + f.parent_missing for f in self.forecast)

    @property
    def exit_code(self) -> int:
        if self.problems or any(not use.fits for use in self.limits):
            return 2
        return 1 if self.refused_rows else 0

    def to_json(self) -> dict[str, Any]:
        manifest = self.manifest
        return {
            "ok": self.exit_code == 0, "exit_code": self.exit_code, "plan": self.plan_name, "target": self.target,
            "live": self.live, "problems": [p.as_dict() for p in self.problems],
            "rejects": {"rows": manifest.rejects if manifest else 0, "examples": list(self.rejects),
                        "file": str(self.out_dir / REJECTS_FILE) if self.out_dir and manifest else None},
            "limits": [use.to_json() for use in self.limits],
            "prediction": [f.to_json() for f in self.forecast] if self.forecast else None,
            "notes": list(self.notes),
        }


def check_against_target(target: Target, plan_path: Path, options: CheckOptions, *, data_dir: Path,
                         timing: QueryTiming, on_event: Event | None = None) -> CheckResult:
    """Check against a live org: its describe, its limits and its records."""
    with open_target(target, data_dir=data_dir) as session:
        rest = RestClient(session)
        live = LiveDescribe(rest, target.name)
        records = CurrentRecords(Bulk2Client(session), rest, timing, kept=org_cache(session, data_dir))
        return _check(plan_path, live, options, org=(rest, records), on_event=on_event)


def check_against_files(files: Iterable[Path], plan_path: Path, options: CheckOptions,
                        on_event: Event | None = None) -> CheckResult:
    """Check against schema files or snapshots: no org, so no limits and no prediction."""
    schema = load_schema_files(list(files))
    result = _check(plan_path, SnapshotSource(schema), options, org=None, on_event=on_event)
    return result


def load_checked(plan_path: Path, source: SchemaSource, variables: Mapping[str, str], *,
                 sources: bool, allow_paths: tuple[Path, ...] = (),
                 sources_dir: Path | None = None, databases: Mapping[str, Database] | None = None
                 ) -> tuple[Any, TargetCheck]:
    """The plan and its check against the target, in the pass that checks the plan itself (its
    schema, its load graph, its sources' headers). Plan problems and target problems are raised
    together (a PlanError); target problems alone are left in the TargetCheck for the caller."""
    target_check = TargetCheck(source)
    try:
        plan = load_plan(plan_path, variables, headers=header_reader(databases) if sources else None,
                         shape=shape_problems, allow_paths=allow_paths, extra_checks=(target_check,),
                         sources_dir=sources_dir)
    except PlanError as exc:
        problems = list(dict.fromkeys([*exc.problems, *unreported(target_check.problems, exc.problems)]))
        raise PlanError(sorted(problems, key=lambda p: (p.line or 0, p.path or "")), warnings=exc.warnings) from None
    return plan, target_check


def _check(plan_path: Path, source: SchemaSource, options: CheckOptions, *,
           org: tuple[RestClient, CurrentRecords] | None, on_event: Event | None) -> CheckResult:
    plan, target_check = load_checked(plan_path, source, options.variables, sources=options.sources,
                                      allow_paths=options.allow_paths, sources_dir=options.sources_dir,
                                      databases=options.databases)
    problems = tuple(sorted(target_check.problems, key=lambda p: (p.line or 0, p.path or "")))
    base = {"plan_name": plan.name, "target": source.source, "live": org is not None, "problems": problems}
    if not options.sources:
        return CheckResult(**base, notes=("sources not read (--no-sources): no row checks and no prediction",))
    schema = target_check.schema
    manifest = compile_plan(plan, PlanOptions(out_dir=options.out_dir, strict=options.strict,
                                              rules=step_rules(plan, schema), scale=options.scale,
                                              mask_key=options.mask_key, databases=options.databases), on_event)
    rejects = _reject_examples(options.out_dir)
    if org is None:
        return CheckResult(**base, manifest=manifest, out_dir=options.out_dir, rejects=rejects,
                           notes=("limits and the prediction need a live target (--target)",))
    rest, records = org
    limits = tuple(limit_uses(manifest, rest.limits()))
    known = [s.id for s in manifest.steps if schema.get(s.object) is not None]
    if on_event:
        on_event("predicting", {"steps": len(known)})
    diffs = diff_steps(manifest, options.out_dir, schema, records, known)
    records.save()
    return CheckResult(**base, manifest=manifest, out_dir=options.out_dir, rejects=rejects, limits=limits,
                       forecast=tuple(forecast(manifest, diffs)))


def _reject_examples(out_dir: Path) -> tuple[dict[str, str], ...]:
    path = out_dir / REJECTS_FILE
    if not path.exists():
        return ()
    frame = read_table(path)
    return tuple(frame.head(REJECT_EXAMPLES).to_dict("records")) if not frame.empty else ()
