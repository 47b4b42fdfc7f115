"""Checks of a plan against its source files: where they may be, and what their headers hold.

`path_problems` needs no file: sources (the `sources.dir` and every step's pattern) must resolve
inside the plan's project (see `project`). `source_problems` reads the headers (or, for
`validate --sources`, the whole files) through a reader the compile stage hands in, and checks
every column the plan reads. Messages name files and columns, never the contents of a file: a
header that does not look like column names is described, not quoted.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from migrator.errors import Problem
from migrator.plan.checks import PlanContext
from migrator.plan.model import ObjectSpec, SourceSpec
from migrator.plan.positions import Path as NodePath
from migrator.plan.project import inside
from migrator.plan.source_kinds import sqlite_file
from migrator.plan.suggest import did_you_mean

_COLUMN_NAME = re.compile(r"^[\w .,\-/()#&%+?']{1,64}$")
ALLOW_HINT = "sources must lie in the folder of the plan or of its migrator.toml; allow more with --allow-path DIR"


@dataclass(frozen=True)
class SourceHeader:
    """One file a step's source matches, as the compile stage read it: the name messages show it
    by, and its columns, or (columns None) the error that kept them from being read. A full read
    (`validate --sources`) adds `warnings`: (line in the file, message) pairs."""

    name: str
    columns: tuple[str, ...] | None
    error: str | None = None
    warnings: tuple[tuple[int, str], ...] = ()


HeaderReader = Callable[[Path, SourceSpec, tuple[Path, ...]], list[SourceHeader]]
"""(sources directory, a step's source, the project's folders) -> the headers of the files it
matches ([] when none do); a file outside the folders is an error, never read."""


def _fixed_part(pattern: str) -> str:
    """The leading components of a pattern that hold no glob characters (`../data` of `../data/*.csv`)."""
    parts = PurePath(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return str(PurePath(*fixed)) if fixed else "."


def path_problems(ctx: PlanContext) -> list[Problem]:
    """`sources.dir` and every step's source must resolve inside the project's folders."""
    start = len(ctx.problems)
    roots = ctx.roots
    where = ", ".join(str(r) for r in roots)
    if "dir" in ctx.data.get("sources", {}) and not inside(ctx.sources_dir, roots):
        ctx.add(("sources", "dir"), f"source directory {str(ctx.sources_dir)!r} is outside the plan's project "
                f"({where})", hint=ALLOW_HINT)
    elif inside(ctx.sources_dir, roots):
        for index, step in ctx.steps:
            if ctx.flaws.touches(("objects", index, "source")) or step.source.generate is not None:
                continue
            if step.source.is_sql:
                _database_file_problem(ctx, index, step.source)
                continue
            fixed = ctx.sources_dir / _fixed_part(step.source.pattern)
            if not inside(fixed, roots):
                ctx.outside.add(index)
                ctx.add(("objects", index, "source"), f"source {step.source.pattern!r} resolves to "
                        f"{str(fixed.resolve())!r}, outside the plan's project ({where})", hint=ALLOW_HINT)
    return ctx.problems[start:]


def _database_file_problem(ctx: PlanContext, index: int, spec: SourceSpec) -> None:
    """A SQLite database named by a URL in the plan is a file like any other source: inside the project."""
    database = sqlite_file(spec.url or "", ctx.sources_dir)
    if database is not None and not inside(database, ctx.roots):
        ctx.outside.add(index)
        ctx.add(("objects", index, "source", "url"), f"the SQLite database {str(database.resolve())!r} is outside "
                f"the plan's project ({', '.join(str(r) for r in ctx.roots)})", hint=ALLOW_HINT)


# --- against the source files ---------------------------------------------------------------


def _used_columns(ctx: PlanContext, index: int, step: ObjectSpec) -> Iterator[tuple[NodePath, str]]:
    """(plan path, column) for every source column the step reads (flawed fields and lookups,
    whose specs were cut down, are left out: their columns are not known for sure)."""
    here: NodePath = ("objects", index)
    raw_fields = ctx.raw_step(index).get("fields", {})
    for spec in step.fields:
        path: NodePath = (*here, "fields", spec.name)
        if ctx.flaws.touches(path):
            continue
        if spec.source is not None:
            has_from = isinstance(raw_fields[spec.name], dict) and "from" in raw_fields[spec.name]
            yield ((*path, "from") if has_from else path), spec.source
        template = ctx.templates.get((*path, "template"))
        for column in sorted(template.columns if template else ()):
            yield (*path, "template"), column
    for lookup in step.lookups:
        path = (*here, "lookups", lookup.field)
        if ctx.flaws.touches(path):
            continue
        yield (*path, "from"), lookup.source
        if lookup.type_source is not None:
            yield (*path, "type_from"), lookup.type_source
    if step.id_source is not None:
        yield (*here, "id"), step.id_source
    flt = ctx.filters.get((*here, "where"))
    for column in sorted(flt.columns if flt else ()):
        yield (*here, "where"), column


def _names(columns: list[str]) -> bool:
    """True when a header reads as column names (not, say, the first line of some other file)."""
    return all(_COLUMN_NAME.match(c) for c in columns)


def _columns_hint(column: str, header: list[str]) -> str | None:
    if not _names(header):
        return f"the header has {len(header)} column(s), which do not look like column names: is it a CSV file?"
    return did_you_mean(column, header) or (f"columns: {', '.join(header)}" if len(header) <= 12 else None)


def _header_difference(header: list[str], columns: list[str]) -> str:
    if not (_names(header) and _names(columns)):
        return "different columns"
    missing = [c for c in header if c not in columns]
    extra = [c for c in columns if c not in header]
    return "; ".join(x for x in (missing and f"missing: {', '.join(missing)}",
                                 extra and f"extra: {', '.join(extra)}") if x) or "order differs"


def generated_column_problems(ctx: PlanContext) -> list[Problem]:
    """A generated source's columns are known from the plan: what its step reads is checked always,
    with or without the source files."""
    start = len(ctx.problems)
    for index, step in ctx.steps:
        if step.source.generate is None:
            continue
        names = list(step.source.generate.column_names)
        for path, column in _used_columns(ctx, index, step):
            if column not in names:
                ctx.add(path, f"column {column!r} is not one of the columns this step generates",
                        hint=_columns_hint(column, names))
    return ctx.problems[start:]


def source_problems(ctx: PlanContext, read_headers: HeaderReader) -> list[Problem]:
    """Every column the plan reads checked against the headers of the files its sources match.
    `read_headers` comes from the compile stage, which knows how to read each kind of source.
    Its warnings (a full read's) are gathered in `ctx.warnings`."""
    start = len(ctx.problems)
    if ctx.flaws.touches(("sources",)):
        return []
    for index, step in ctx.steps:
        source_path: NodePath = ("objects", index, "source")
        if ctx.flaws.touches(source_path) or index in ctx.outside or step.source.generate is not None:
            continue  # a generated source's columns are in the plan: generated_column_problems checks them
        headers = read_headers(ctx.sources_dir, step.source, ctx.roots)
        if not headers:
            ctx.add(source_path, f"no source file matches {step.source.label!r} in {ctx.sources_dir}",
                    hint=did_you_mean(step.source.pattern, (p.name for p in ctx.sources_dir.glob("*"))))
            continue
        header: list[str] | None = None
        for found in headers:
            for line, message in found.warnings:
                ctx.warn(source_path, f"{found.name}:{line}: {message}")
            if found.columns is None:
                ctx.add(source_path, found.error or f"{found.name}: cannot be read")
                continue
            name, columns = found.name, list(found.columns)
            if found.error:
                ctx.add(source_path, found.error)
            doubled = sorted({c for c in columns if columns.count(c) > 1})
            if doubled:
                shown = repr(doubled[0]) if _names(doubled) else "a column"
                ctx.add(source_path, f"{name}: {shown} appears more than once in the header")
            if header is None:
                header, first = columns, name
            elif columns != header:
                ctx.add(source_path, f"{name} and {first} match the same source but have different "
                        f"columns ({_header_difference(header, columns)})")
        if header is None:
            continue
        for path, column in _used_columns(ctx, index, step):
            if column not in header:
                ctx.add(path, f"column {column!r} is not in {headers[0].name}", hint=_columns_hint(column, header))
    return ctx.problems[start:]
