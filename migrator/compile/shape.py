"""Whether a plan's shape can be compiled: what `plan` refuses before reading a row, as Problems.

`validate` hands this to `load_plan`, so that it refuses the same plans `plan` refuses (a cycle of
lookups nothing can break, a load_order that contradicts the lookups, a lookup with no key to find
its parents by), with every other problem, in one pass.
"""

from __future__ import annotations

from migrator.compile.graph import build_load_order
from migrator.compile.planner import resolve_lookup_keys
from migrator.errors import PlanError, Problem
from migrator.plan.model import DELETE_OPERATIONS, Plan


def _unloaded(plan: Plan) -> set[tuple[int | None, str]]:
    """(line, path) of lookups to an object no step loads: the plan checks already say so, and
    that no key finds its parents is the same mistake."""
    loaded = {s.object for s in plan.objects if s.operation not in DELETE_OPERATIONS}
    return {(lk.location.line, lk.location.path) for s in plan.objects for lk in s.lookups
            if not lk.existing and not set(lk.targets) <= loaded}


def shape_problems(plan: Plan) -> list[Problem]:
    problems: list[Problem] = []
    for check in (build_load_order, resolve_lookup_keys):
        try:
            check(plan)
        except PlanError as exc:
            problems += exc.problems
    said = _unloaded(plan)
    return [p for p in problems if (p.line, p.path) not in said]
