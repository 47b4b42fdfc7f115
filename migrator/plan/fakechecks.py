"""Checks of generated sources and masks that need the whole plan: what one step's `generate` says
about another step, what columns templates read, which variable the anchor date is in.

`semantic_problems` (plan/checks.py) calls `generation_problems` with its located `add`, so these
problems come in the same report as every other. What needs Faker itself (does the provider exist
in the locale? does it read the clock?) is checked by the fake stage, which has Faker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from migrator.plan.fakespec import (
    Column,
    FakeColumn,
    GenerateSpec,
    ParentColumn,
    RefColumn,
    TemplateColumn,
    parse_absolute,
)
from migrator.plan.model import ObjectSpec
from migrator.plan.positions import Path as NodePath
from migrator.plan.suggest import did_you_mean
from migrator.plan.templating import TemplateError, compile_template

Add = Callable[..., None]  # ctx.add(path, message, *, hint=None, key=False, line=None)
Node = tuple[str, str]  # (step, column)


def _column_path(index: int, column: str, *rest: str) -> NodePath:
    return ("objects", index, "source", "generate", "columns", column, *rest)


def generation_problems(steps: Sequence[tuple[int, ObjectSpec]], variables: Mapping[str, str], add: Add,
                        text_line: Callable[[NodePath, int], int | None]) -> None:
    """Every problem of the plan's generated sources and masks, through `add`."""
    generated = {s.name: (i, s.source.generate) for i, s in steps if s.source.generate is not None}
    edges: dict[Node, list[tuple[Node, NodePath]]] = {}
    for name, (index, spec) in generated.items():
        _check_per(spec, index, generated, add)
        for column in spec.columns:
            edges[(name, column.name)] = _references(column, spec, index, generated, variables, add, text_line)
        _check_anchor(spec, index, variables, add)
    _check_cycles(edges, add)
    for index, step in steps:
        for field in step.fields:
            if field.mask is not None and field.name == step.external_id:
                add(("objects", index, "fields", field.name, "mask"),
                    f"{field.name} is the key of {step.name}: masking it would break every lookup that finds "
                    "these records by it (mask another field, or key the step on a field you do not mask)",
                    key=True)


def _check_per(spec: GenerateSpec, index: int, generated: Mapping[str, tuple[int, GenerateSpec]], add: Add) -> None:
    if spec.per is None:
        return
    path: NodePath = ("objects", index, "source", "generate", "per")
    if spec.per == spec.step:
        add(path, "a generated step cannot generate rows per its own rows")
    elif spec.per not in generated:
        add(path, f"per names {spec.per!r}, which is not a generated step of this plan (per needs a step whose "
            "source is generate)", hint=did_you_mean(spec.per, generated))


def _references(column: Column, spec: GenerateSpec, index: int, generated: Mapping[str, tuple[int, GenerateSpec]],
                variables: Mapping[str, str], add: Add, text_line: Callable[[NodePath, int], int | None]
                ) -> list[tuple[Node, NodePath]]:
    """What `column` reads, as (step, column) nodes with the plan path that says so; problems added."""
    here = _column_path(index, column.name)
    found: list[tuple[Node, NodePath]] = []
    if isinstance(column, TemplateColumn):
        path = (*here, "template")
        try:
            template = compile_template(column.template)
        except TemplateError as exc:
            add(path, f"template error: {exc.message}", line=text_line(path, exc.lineno or 1))
            return found
        for name in sorted(template.columns):
            if spec.column(name) is None or name == column.name:
                add(path, f"the template reads {name!r}, which is not another column of this generated source",
                    hint=did_you_mean(name, [n for n in spec.column_names if n != column.name]))
            else:
                found.append(((spec.step, name), path))
        for name in sorted(template.variables - set(variables)):
            add(path, f"template uses vars.{name}, which is not declared under variables",
                hint=did_you_mean(name, variables))
    elif isinstance(column, ParentColumn):
        path = (*here, "parent")
        parent = generated.get(spec.per or "")
        if spec.per is None:
            add(path, "parent reads a column of the parent row, and this source has no per (use ref to pick a "
                "row of another generated step)")
        elif parent is not None:
            found += _target_column(parent[1], column.column, path, add)
    elif isinstance(column, RefColumn) and column.step:
        path = (*here, "ref")
        target = generated.get(column.step)
        if target is None:
            add(path, f"ref names {column.step!r}, which is not a generated step of this plan",
                hint=did_you_mean(column.step, generated))
        else:
            found += _target_column(target[1], column.column, path, add)
    elif isinstance(column, FakeColumn) and not column.provider.isidentifier():
        add(here, f"{column.provider!r} is not a Faker provider name")
    return found


def _target_column(target: GenerateSpec, name: str, path: NodePath, add: Add) -> list[tuple[Node, NodePath]]:
    if target.column(name) is None:
        add(path, f"{target.step} generates no column {name!r}", hint=did_you_mean(name, target.column_names))
        return []
    return [((target.step, name), path)]


def _check_anchor(spec: GenerateSpec, index: int, variables: Mapping[str, str], add: Add) -> None:
    if not spec.uses_relative_dates():
        return
    path: NodePath = ("objects", index, "source", "generate")
    if spec.anchor not in variables:
        add(path, f"relative dates count from the anchor date, the plan variable {spec.anchor!r}, which is not "
            f"declared: add it under variables (e.g. {spec.anchor}: \"2026-01-15\"), so that every machine "
            "generates the same dates", hint=did_you_mean(spec.anchor, variables))
    elif parse_absolute(str(variables[spec.anchor])) is None:
        add(("variables", spec.anchor), f"the anchor date {spec.anchor} = {variables[spec.anchor]!r} is not an "
            "ISO date (YYYY-MM-DD) or datetime")


def _check_cycles(edges: Mapping[Node, list[tuple[Node, NodePath]]], add: Add) -> None:
    """A column that (through templates, parents and refs) reads itself can never be generated."""
    state: dict[Node, int] = {}  # 1: on the current path, 2: done
    reported: set[Node] = set()

    def visit(node: Node, trail: list[Node]) -> None:
        state[node] = 1
        on_path = [*trail, node]
        for target, at in edges.get(node, ()):
            if state.get(target) == 1 and target not in reported:
                reported.add(target)
                loop = [*on_path[on_path.index(target):], target]
                add(at, "these generated columns read each other in a loop: "
                    + " -> ".join(f"{step}.{column}" for step, column in loop))
            elif target not in state:
                visit(target, on_path)
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [])
