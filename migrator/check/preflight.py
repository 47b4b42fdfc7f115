"""What `migrator run` asks of check before it sends anything.

`load_for_run` loads the plan and, when the target serves describe and checks are on, checks it
against the target's schema, refusing the run (`CheckFailed`, the same messages as `migrator
check`) before anything is compiled or sent. It returns the row rules and record types the
compiler applies, from the describe it made (record types are resolved even with `--no-check`:
the plan needs their Ids). `skip_unchanged` then drops the rows the target already holds, and `limit_problems` says
whether what is left to send fits in the org's daily limits.
Not the per-key prediction: a run does not spend queries on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from migrator.check.check_command import load_checked
from migrator.check.current import CurrentRecords
from migrator.check.describe import LiveDescribe
from migrator.check.limits import limit_uses
from migrator.check.record_cache import org_cache
from migrator.check.rules import record_types, step_rules
from migrator.check.schema import TargetSchema
from migrator.check.unchanged import drop_unchanged
from migrator.check.users import target_users, uses_users
from migrator.client.bulk2 import Bulk2Client
from migrator.client.bulk2_query import QueryTiming
from migrator.client.http import ApiSession
from migrator.client.rest import RestClient
from migrator.compile.field_rules import StepRules
from migrator.compile.manifest import Manifest
from migrator.compile.readers.base import Database
from migrator.compile.shape import shape_problems
from migrator.compile.sources import header_reader
from migrator.errors import CheckFailed, NotFoundError, Problem
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan


@dataclass(frozen=True)
class RunPreflight:
    """The plan a run compiles, the rules to compile it with, and the schema they came from
    (None when the target serves no describe or checks were off and nothing needed it)."""

    plan: Plan
    rules: dict[str, StepRules] | None
    schema: TargetSchema | None
    checked: bool


def _serves_describe(live: LiveDescribe) -> bool:
    try:
        live.object_names()
    except NotFoundError:
        return False
    return True


def load_for_run(session: ApiSession, plan_path, variables: Mapping[str, str], *, check: bool,
                 target: str, plan: Plan | None = None, allow_paths: tuple[Path, ...] = (),
                 sources_dir: Path | None = None, databases: Mapping[str, Database] | None = None) -> RunPreflight:
    """`plan`, when the caller has loaded it already, spares loading it again when nothing is checked
    (checking loads it again: the problems need the plan's positions). `allow_paths` are the folders
    outside the plan's project its sources may be read from (`--allow-path`); `sources_dir` reads the
    sources from another folder laid out like the plan's (a copy's extract)."""
    live = LiveDescribe(RestClient(session), target)
    if check and _serves_describe(live):
        checked, target_check = load_checked(plan_path, live, variables, sources=True, allow_paths=allow_paths,
                                             sources_dir=sources_dir, databases=databases)
        if target_check.problems:
            raise CheckFailed(sorted(target_check.problems, key=lambda p: (p.line or 0, p.path or "")),
                              target=target)
        rules = _with_users(session, checked, step_rules(checked, target_check.schema))
        return RunPreflight(checked, rules, target_check.schema, True)
    plan = plan or load_plan(plan_path, variables, headers=header_reader(databases), shape=shape_problems,
                             allow_paths=allow_paths, sources_dir=sources_dir)
    needs_types = [s for s in plan.objects if any(f.record_type for f in s.fields)]
    if not needs_types:
        return RunPreflight(plan, _with_users(session, plan, None), None, False)
    schema = live.schema(s.object for s in needs_types)
    rules = {s.name: StepRules(record_types=record_types(obj)) for s in needs_types
             if (obj := schema.get(s.object)) is not None}
    return RunPreflight(plan, _with_users(session, plan, rules), schema, False)


def _with_users(session: ApiSession, plan: Plan, rules: dict[str, StepRules] | None) -> dict[str, StepRules] | None:
    """`rules` with the target's users for the steps that name users (the target's Ids differ)."""
    steps = uses_users(plan)
    if not steps:
        return rules
    users = target_users(session, plan)
    rules = dict(rules or {})
    for name in steps:
        rules[name] = replace(rules.get(name) or StepRules(), users=users)
    return rules


def limit_problems(manifest: Manifest, session: ApiSession) -> list[Problem]:
    """The daily limits the compiled run would exceed (none when the target serves no /limits)."""
    try:
        limits = RestClient(session).limits()
    except NotFoundError:
        return []
    hint = "wait for the 24-hour window to free up, or load fewer rows"
    return [Problem(use.message(), file=manifest.plan_file, hint=hint)
            for use in limit_uses(manifest, limits) if not use.fits]


def skip_unchanged(manifest: Manifest, plan_dir, session: ApiSession, preflight: RunPreflight,
                   plan_steps: Iterable[str], timing: QueryTiming, target: str, home: Path | None = None) -> Manifest:
    """Drop the rows of `plan_steps` the target already holds (see `check.unchanged`). With `home`,
    through the records kept from earlier comparisons with this org (`record_cache`), and keeping
    what this one reads."""
    steps = list(plan_steps)
    if not steps:
        return manifest
    rest = RestClient(session)
    schema = preflight.schema
    objects = {s.object for s in manifest.steps if s.step in steps}
    if schema is None or any(schema.get(o) is None for o in objects):
        schema = LiveDescribe(rest, target).schema(objects | {t for s in preflight.plan.objects
                                                               for lk in s.lookups for t in lk.targets})
    records = CurrentRecords(Bulk2Client(session), rest, timing,
                             kept=org_cache(session, home) if home is not None else None)
    filtered = drop_unchanged(manifest, plan_dir, schema, records, steps)
    records.save()
    return filtered
