"""`migrator delete` and `copy --clean`: delete a plan's records from a target, children first.

The records are found in the target, never guessed: the keys the plan sends (its compiled parts,
from its sources or from a copy's extract) are looked up with a key query of the target, and a step
with `delete_where:` (SOQL on the target) adds the records that condition selects. Without `--yes`
nothing is deleted: the records found are counted per step and listed in a folder. With `--yes`
they are deleted by a run of a generated plan (one delete step per object, children before
parents by the plan's load order, `hardDelete` only when asked), so the run's results list every
deleted record (its Id, and the key it was found by in the source file beside it), failures come
with the server's reason, and the run can be resumed or retried like any other.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from migrator.check.current import CurrentRecords, Fetch, read_page
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming, run_query
from migrator.client.http import ApiSession
from migrator.client.rest import RestClient
from migrator.compile.csvio import read_table, write_table
from migrator.compile.graph import build_load_order
from migrator.compile.manifest import Manifest
from migrator.compile.planner import PlanOptions, compile_plan
from migrator.config import Target
from migrator.errors import UsageError
from migrator.fake.masks import MaskKey
from migrator.plan.model import DELETE_OPERATIONS, Plan
from migrator.run.executor import Clock, RunOptions
from migrator.run.rundir import DEFAULT_HOME, RunPaths, new_run_id, runs_root
from migrator.run.runner import RunRequest, RunResult, execute

Event = Callable[[str, Mapping[str, object]], None]
LIST_COLUMNS = ("Id", "key", "found_by")


@dataclass(frozen=True)
class StepRecords:
    """The target's records of one object that a delete would remove (Id, key, found_by)."""

    step: str
    object: str
    key_field: str | None
    records: pd.DataFrame
    by_key: int
    by_where: int
    keys_asked: int

    def to_json(self, deleted: int | None = None) -> dict[str, Any]:
        return {"step": self.step, "object": self.object, "key_field": self.key_field, "keys": self.keys_asked,
                "by_key": self.by_key, "by_where": self.by_where, "records": len(self.records), "deleted": deleted}


@dataclass(frozen=True)
class DeleteResult:
    """What a delete found (children first) and, unless it was a dry run, the run that deleted it."""

    plan_name: str
    target: str
    found: tuple[StepRecords, ...]
    list_dir: Path
    dry_run: bool
    hard: bool
    run: RunResult | None = None

    @property
    def records(self) -> int:
        return sum(len(s.records) for s in self.found)

    @property
    def exit_code(self) -> int:
        return self.run.exit_code if self.run is not None else 0

    def deleted(self, step: str) -> int | None:
        if self.run is None:
            return None if self.dry_run else 0
        return sum(s.get("deleted", 0) for s in self.run.results.get("steps", []) if s.get("step") == step)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.exit_code == 0, "exit_code": self.exit_code, "plan": self.plan_name,
                "target": self.target, "dry_run": self.dry_run, "operation": "hardDelete" if self.hard else "delete",
                "records": self.records, "list_dir": str(self.list_dir),
                "steps": [s.to_json(self.deleted(s.step)) for s in self.found],
                "run": ({"run_id": self.run.paths.run_id, "status": self.run.results.get("status"),
                         "totals": self.run.results.get("totals"), "report": str(self.run.paths.report)}
                        if self.run is not None else None)}


def plan_keys(plan: Plan, scratch: Path, on_event: Event | None = None, *,
              mask_key: MaskKey | None = None) -> dict[str, list[str]]:
    """Per plan step, the keys its compiled parts send (rows the plan refuses are not its records).
    A plan that masks is compiled with the target's `mask_key`, so its keys are those a run sent."""
    shutil.rmtree(scratch, ignore_errors=True)
    manifest: Manifest = compile_plan(plan, PlanOptions(out_dir=scratch, mask_key=mask_key), on_event)
    keys: dict[str, list[str]] = {}
    for step in manifest.steps:
        if step.pass_no != 1 or step.operation in DELETE_OPERATIONS or not step.key_column:
            continue
        for part in step.parts:
            table = read_table(scratch / part.path)
            if step.key_column in table:
                keys.setdefault(step.step, []).extend(v for v in table[step.key_column].tolist() if v)
    shutil.rmtree(scratch, ignore_errors=True)
    return keys


def children_first(plan: Plan, steps: list[str] | None = None) -> list[str]:
    """The plan's loading steps, children before parents (the load order reversed)."""
    order = [s for s in reversed(build_load_order(plan).processing_order)
             if (spec := plan.step(s)) is not None and spec.operation not in DELETE_OPERATIONS]
    return [s for s in order if steps is None or s in steps]


def _where_records(bulk: Bulk2Client, object_name: str, key: str | None, condition: str,
                   timing: QueryTiming) -> pd.DataFrame:
    fields = "Id" + (f", {key}" if key and key.lower() != "id" else "")
    pages = [read_page(page) for page in run_query(bulk, f"SELECT {fields} FROM {object_name} WHERE {condition}",
                                                  timing)]
    frame = pd.concat([p for p in pages if not p.empty], ignore_index=True) if any(not p.empty for p in pages) \
        else pd.DataFrame({"Id": pd.Series(dtype="str")})
    lower = {c.lower(): c for c in frame.columns}
    return pd.DataFrame({"Id": frame[lower["id"]].astype(str),
                         "key": frame[lower[key.lower()]].astype(str) if key and key.lower() in lower else ""})


def find_records(plan: Plan, keys: Mapping[str, list[str]], session: ApiSession, timing: QueryTiming,
                 steps: list[str] | None = None, *, use_where: bool = True) -> list[StepRecords]:
    """The target's records of the plan's keys (and `delete_where:`), per object, children first."""
    bulk = Bulk2Client(session)
    records = CurrentRecords(bulk, RestClient(session), timing)
    found: list[StepRecords] = []
    seen: dict[str, set[str]] = {}
    for name in children_first(plan, steps):
        spec = plan.step(name)
        assert spec is not None
        key = spec.external_id if spec.external_id and spec.external_id.lower() != "id" else None
        asked = sorted(set(keys.get(name, [])))
        by_key = pd.DataFrame({"Id": pd.Series(dtype="str"), "key": pd.Series(dtype="str")})
        if key and asked:
            fetched = records.fetch(Fetch(spec.object, key, ("Id", key), asked)).records
            by_key = pd.DataFrame({"Id": fetched["Id"].astype(str), "key": fetched[key].astype(str)})
        by_key = by_key.assign(found_by="key")
        by_where = pd.DataFrame(columns=["Id", "key", "found_by"])
        if use_where and spec.delete_where:
            by_where = _where_records(bulk, spec.object, key, spec.delete_where, timing).assign(found_by="delete_where")
        both = pd.concat([by_key, by_where], ignore_index=True).drop_duplicates("Id", keep="first")
        taken = seen.setdefault(spec.object.lower(), set())
        both = both[~both["Id"].isin(taken)].sort_values(["key", "Id"]).reset_index(drop=True)
        taken.update(both["Id"])
        found.append(StepRecords(name, spec.object, key, both.astype(str), int((both["found_by"] == "key").sum()),
                                 int((both["found_by"] == "delete_where").sum()), len(asked)))
    return found


def write_lists(found: list[StepRecords], folder: Path) -> None:
    """One CSV per step of the records found (Id, key, found_by), in `folder` (emptied first)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for step in found:
        write_table(folder / f"{_file_name(step.step)}.csv", step.records[list(LIST_COLUMNS)])


def _file_name(step: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in step)


def write_delete_plan(plan: Plan, found: list[StepRecords], folder: Path, hard: bool) -> Path:
    """The generated plan deleting `found`: one step per object with records, children first."""
    steps = [s for s in found if len(s.records)]
    write_lists(found, folder)
    document = {
        "version": 1,
        "name": f"{plan.name}-delete",
        "description": f"Delete the records of plan {plan.name} ({'hardDelete' if hard else 'delete'}), children first",
        "sources": {"dir": "."},
        "objects": [{"object": s.object, "name": s.step, "source": f"{_file_name(s.step)}.csv",
                     "operation": "hardDelete" if hard else "delete", "id": "Id"} for s in steps],
        "load_order": [s.step for s in steps],
    }
    path = folder / "delete-plan.yaml"
    path.write_text("# Generated by migrator delete: the records found in the target, children first.\n"
                    + yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def delete_found(plan: Plan, found: list[StepRecords], target: Target, session: ApiSession, *, hard: bool,
                 home: Path, run_options: RunOptions, clock: Clock, emit: Event,
                 now: datetime | None = None, run_id: str | None = None) -> RunResult | None:
    """Delete `found` by a run of the generated plan in a new run directory (None when nothing is found)."""
    if not any(len(s.records) for s in found):
        return None
    paths = RunPaths(runs_root(home) / (run_id or new_run_id(now or datetime.now(UTC))))
    plan_file = write_delete_plan(plan, found, paths.root / "delete", hard)
    request = RunRequest(plan_path=plan_file, target=target.name, options=run_options, home=home,
                         run_id=paths.run_id)
    return execute(request, on_event=emit, clock=clock, connection=(target, session))


def delete(plan: Plan, target: Target, session: ApiSession, *, steps: list[str] | None, yes: bool, hard: bool,
           home: Path = DEFAULT_HOME, run_options: RunOptions | None = None, clock: Clock | None = None,
           emit: Event | None = None, mask_key: MaskKey | None = None) -> DeleteResult:
    """`migrator delete`: find the plan's records in the target; delete them only with `yes`."""
    timer = clock or Clock()
    timing = QueryTiming(clock=timer.monotonic, sleep=timer.sleep)
    notify = emit or (lambda kind, data: None)
    keys = plan_keys(plan, home / "delete" / plan.name / ".compiled", mask_key=mask_key)
    found = find_records(plan, keys, session, timing, steps)
    list_dir = home / "delete" / plan.name
    write_lists(found, list_dir)
    if not yes:
        return DeleteResult(plan.name, target.name, tuple(found), list_dir, dry_run=True, hard=hard)
    run = delete_found(plan, found, target, session, hard=hard, home=home, run_options=run_options or RunOptions(),
                       clock=timer, emit=notify)
    return DeleteResult(plan.name, target.name, tuple(found), list_dir, dry_run=False, hard=hard, run=run)


def steps_of(plan: Plan, patterns: tuple[str, ...]) -> list[str] | None:
    """`--select` for a delete: the named steps (by step or object name) or, with `Account+`, also the
    steps that look them up (deleting parents without their children would orphan or cascade them)."""
    if not patterns:
        return None
    order = build_load_order(plan)
    names = [s.name for s in plan.objects if s.operation not in DELETE_OPERATIONS]
    chosen: set[str] = set()
    for pattern in patterns:
        wanted = pattern.strip().strip("+").lower()
        hits = {s for s in names if wanted in (s.lower(), plan.step(s).object.lower())}  # type: ignore[union-attr]
        if not hits:
            raise UsageError(f"--select {pattern!r} matches no step (steps: {', '.join(names)})")
        if pattern.strip().endswith("+"):
            frontier = list(hits)
            while frontier:
                parent = frontier.pop()
                for child in names:
                    if parent in order.parents(child) and child not in hits:
                        hits.add(child)
                        frontier.append(child)
        chosen |= hits
    return [s for s in names if s in chosen]
