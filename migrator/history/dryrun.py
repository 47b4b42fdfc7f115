"""`migrate --dry-run`: what each pending migration would send, found without sending anything.

A check is any callable taking a migration and a folder to write into and returning a
`CheckReport`. The one here is the planner (`migrator plan`): it compiles the exact CSVs a run would
send, with rejects and missing parents. A target-aware check (describe rules, predicted creates and
updates) plugs in through the same signature when the check stage exists; `migrate` takes it as a
parameter and knows nothing of how it works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.compile.planner import PlanOptions, compile_plan
from migrator.compile.shape import shape_problems
from migrator.compile.sources import read_headers
from migrator.errors import MigratorError
from migrator.history.states import LocalMigration
from migrator.plan.checks import PlanCheck
from migrator.plan.loader import load_plan


@dataclass(frozen=True)
class CheckReport:
    """What a dry run found for one migration: rows it would send, rows refused, where the files are."""

    script: str
    ok: bool
    rows: int = 0
    rejected: int = 0
    missing_parents: int = 0
    out_dir: Path | None = None
    problems: tuple[str, ...] = ()
    checker: str = "planner"
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"script": self.script, "ok": self.ok, "rows": self.rows, "rejected": self.rejected,
                "missing_parents": self.missing_parents, "out_dir": str(self.out_dir) if self.out_dir else None,
                "problems": list(self.problems), "checker": self.checker, "details": dict(self.details)}


MigrationCheck = Callable[[LocalMigration, Path], CheckReport]


def planner_check(variables: Mapping[str, str] | None = None, *, strict: bool = False,
                  extra_checks: Sequence[PlanCheck] = ()) -> MigrationCheck:
    """The offline check: load and compile each migration as `migrator plan` would, with the same
    checks (its sources' headers, its load graph and `extra_checks`, such as the names the target is
    known to have); strict: rejects fail it."""

    def check(migration: LocalMigration, out_dir: Path) -> CheckReport:
        try:
            plan = load_plan(migration.path, variables, headers=read_headers, shape=shape_problems,
                             extra_checks=extra_checks)
            manifest = compile_plan(plan, PlanOptions(out_dir=out_dir, strict=strict))
        except MigratorError as exc:
            return CheckReport(migration.file.script, ok=False, out_dir=out_dir, problems=(str(exc),))
        rejected = manifest.totals()["rejected"]
        rows = sum(step.rows for step in manifest.steps if step.pass_no == 1)
        return CheckReport(migration.file.script, ok=not (strict and rejected), rows=rows, rejected=rejected,
                           missing_parents=manifest.missing_parents, out_dir=out_dir,
                           details={"steps": [{"id": s.id, "object": s.object, "operation": s.operation,
                                               "rows": s.rows} for s in manifest.steps]})

    return check
