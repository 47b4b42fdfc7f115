"""migrator's verbs as plain functions: what the CLI calls, and what other Python code can call.

They take paths and options, return typed results, and never print: progress is reported through
an `on_event(kind, data)` callback so that the CLI can draw progress bars and tests can listen.
Errors are raised as `migrator.errors` exceptions for the caller to present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from migrator.errors import UsageError
from migrator.graph import StepNode, to_mermaid
from migrator.loader import load_plan
from migrator.manifest import Manifest
from migrator.model import Plan
from migrator.planner import PlanOptions, compile_plan

Event = Callable[[str, Mapping[str, object]], None]

DEFAULT_HOME = Path(".migrator")


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
    plan: Plan
    checked_sources: bool


def validate(
    plan_path: Path | str, *, variables: Mapping[str, str] | None = None, check_sources: bool = False
) -> ValidateResult:
    """Check a plan (and with `check_sources`, its source headers). Raises PlanError with every problem."""
    plan = load_plan(plan_path, variables, check_sources=check_sources)
    return ValidateResult(plan=plan, checked_sources=check_sources)


@dataclass(frozen=True)
class PlanResult:
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
    on_event: Event | None = None,
) -> PlanResult:
    """The dry run: compile the plan into the exact CSVs a run would send, plus rejects and a manifest."""
    loaded = load_plan(plan_path, variables, check_sources=True)
    target = out_dir or default_plan_dir(loaded)
    manifest = compile_plan(loaded, PlanOptions(out_dir=target, strict=strict), on_event)
    return PlanResult(plan=loaded, manifest=manifest, out_dir=target)
