"""The migrations folder as it is now: every migration, its plan loaded and checked, its checksum.

Every plan is loaded (with its sources' headers and its load graph checked, as `migrator plan`
checks them) before anything is sent, so a broken
V003 is reported before V002 runs, and all problems of all plans come back together in one
PlanError, each with its file and line. ``--var NAME=VALUE`` reaches every migration that declares
NAME (like Flyway placeholders); a name no migration declares is an error, not a silent no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from migrator.compile.shape import shape_problems
from migrator.compile.sources import read_headers
from migrator.errors import PlanError, Problem
from migrator.history.checksum import migration_checksum
from migrator.history.naming import MigrationFile, discover
from migrator.history.states import LocalMigration
from migrator.plan.loader import load_plan
from migrator.plan.model import Plan


def _load(migration: MigrationFile, variables: Mapping[str, str]) -> Plan:
    plan = load_plan(migration.path, None, headers=read_headers, shape=shape_problems)
    mine = {name: value for name, value in variables.items() if name in plan.variables}
    return load_plan(migration.path, mine, headers=read_headers, shape=shape_problems) if mine else plan


def load_folder(folder: Path, variables: Mapping[str, str] | None = None) -> list[LocalMigration]:
    given = dict(variables or {})
    problems: list[Problem] = []
    found = []
    declared: set[str] = set()
    for migration in discover(folder):
        try:
            plan = _load(migration, given)
        except PlanError as exc:
            problems += exc.problems
            continue
        declared |= set(plan.variables)
        found.append(LocalMigration(migration, migration_checksum(plan), dict(plan.variables)))
    problems += [Problem(f"--var {name}: no migration declares a variable {name!r}", file=str(folder))
                 for name in given if name not in declared and not problems]
    if problems:
        raise PlanError(problems)
    return found
