"""Checks a plan against itself (the checks against its source files are in `source_checks`).

The schema says what each key may hold; these checks say whether the keys make sense together:
lookups to objects the plan loads, keys for upserts, options that fit the field type, variables
that exist, templates and filters that compile. Each check appends located Problems and never
stops early, so the user sees everything at once. They run on the plan with its schema problems
cut out (see `prune`), and skip what a cut would make them misjudge.
"""

from __future__ import annotations

import codecs
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from migrator.errors import Problem
from migrator.plan.fakechecks import generation_problems
from migrator.plan.model import DELETE_OPERATIONS, ObjectSpec
from migrator.plan.positions import Path as NodePath
from migrator.plan.positions import PositionedDocument, format_path
from migrator.plan.prune import Flaws
from migrator.plan.suggest import did_you_mean
from migrator.plan.templating import Template, TemplateError, compile_template
from migrator.plan.where import WhereFilter, WhereSyntaxError, compile_where

# Which field types each option makes sense for.
OPTION_TYPES = {
    "format": ("date", "datetime"),
    "timezone": ("datetime",),
    "decimal": ("number", "integer"),
    "values": ("picklist", "multipicklist"),
    "truncate": ("string", "email", "picklist", "multipicklist"),
    "max_length": ("string", "email", "picklist", "multipicklist"),
}
_DIRECTIVE = re.compile(r"%(.)", re.DOTALL)
_VALID_DIRECTIVES = set("aAbBcdfGHIjmMpSuUVwWxXyYzZ%")
_FORMAT_TOKENS = (("yyyy", "%Y"), ("YYYY", "%Y"), ("yy", "%y"), ("MM", "%m"), ("mm", "%m"),
                  ("dd", "%d"), ("DD", "%d"), ("HH", "%H"), ("hh", "%I"), ("ss", "%S"))


PlanCheck = Callable[["PlanContext"], None]
"""A check from a later stage (names against the target's schema, say), given the steps with their
positions; it adds located problems with `PlanContext.add`, so they are reported with the rest. Like
the checks here, it skips what a schema problem cut out (`PlanContext.flaws`)."""


@dataclass
class PlanContext:
    """Everything the checks need: the positioned document and the steps built from it."""

    doc: PositionedDocument
    file: str
    steps: list[tuple[int, ObjectSpec]]  # (index in `objects`, step) of the steps without schema errors
    declared: Mapping[str, str]
    sources_dir: Path
    roots: tuple[Path, ...] = ()  # the project's folders: sources must lie inside them
    flaws: Flaws = field(default_factory=Flaws)  # what schema problems cut out of `doc.data`
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    outside: set[int] = field(default_factory=set)  # steps whose source is outside the project: never read
    templates: dict[NodePath, Template] = field(default_factory=dict)
    filters: dict[NodePath, WhereFilter] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data  # type: ignore[return-value]

    def raw_step(self, index: int) -> dict[str, Any]:
        return self.data["objects"][index]

    def add(self, path: NodePath, message: str, *, hint: str | None = None, key: bool = False,
            line: int | None = None) -> None:
        self.problems.append(Problem(message, file=self.file,
                                     line=line if line is not None else self.doc.line_of(path, key=key),
                                     path=format_path(path) or None, hint=hint))

    def warn(self, path: NodePath, message: str) -> None:
        self.warnings.append(Problem(message, file=self.file, line=self.doc.line_of(path),
                                     path=format_path(path) or None))

    def keys_cut(self, target: str) -> bool:
        """True if a schema problem cut the key, the fields or the operation of a step loading
        `target` (or the whole step): what its children match it on is then unknown."""
        if any(isinstance(s, dict) and s.get("object") == target
               for i, s in enumerate(self.data["objects"]) if i in self.flaws.broken_steps):
            return True
        return any(step.object == target and any(self.flaws.setting_cut(i, self.raw_step(i), key)
                                                 for key in ("external_id", "fields", "operation"))
                   for i, step in self.steps)

    def all_objects(self, *, loaded: bool = False) -> set[str]:
        """Object names of every step (with loaded=True, of steps that are not deletes), including
        steps whose other keys failed the schema."""
        default_operation = self.data.get("defaults", {}).get("operation", "upsert")
        return {s["object"] for s in self.data["objects"]
                if isinstance(s, dict) and isinstance(s.get("object"), str)
                and not (loaded and s.get("operation", default_operation) in DELETE_OPERATIONS)}


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _valid_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for path-like keys, OSError...
        return False
    return True


def semantic_problems(ctx: PlanContext, overrides: Mapping[str, str]) -> list[Problem]:
    for name in overrides:
        if name not in ctx.declared:
            ctx.problems.append(Problem(
                f"--var {name}: the plan declares no variable {name!r} (declare it under variables)",
                file=ctx.file, hint=did_you_mean(name, ctx.declared)))
    _check_plan_level(ctx)
    for index, step in ctx.steps:
        _check_operation(ctx, index, step)
        _check_fields(ctx, index, step)
        _check_lookups(ctx, index, step)
        _check_where(ctx, index, step)
    generation_problems(ctx.steps, {**ctx.declared, **overrides}, ctx.add, ctx.doc.text_line)
    return ctx.problems


def _check_plan_level(ctx: PlanContext) -> None:
    sources = ctx.data.get("sources", {})
    if "dir" in sources and not ctx.sources_dir.is_dir():
        state = "is not a directory" if ctx.sources_dir.exists() else "does not exist"
        ctx.add(("sources", "dir"), f"source directory {str(ctx.sources_dir)!r} {state}")
    encodings = [(("sources", "encoding"), sources.get("encoding"))]
    encodings += [(("objects", i, "source", "encoding"), s.source.encoding) for i, s in ctx.steps]
    for path, encoding in encodings:
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError:
                ctx.add(path, f"unknown encoding {encoding!r}", hint="e.g. utf-8, cp1252, latin-1")
    zone = ctx.data.get("defaults", {}).get("timezone")
    if zone is not None:
        _check_time_zone(ctx, ("defaults", "timezone"), zone)
    for kind in ("date_format", "datetime_format"):
        _check_formats(ctx, ("defaults", kind), ctx.data.get("defaults", {}).get(kind))
    _check_step_names(ctx)
    _check_load_order(ctx)


def _check_step_names(ctx: PlanContext) -> None:
    first_use: dict[str, int] = {}
    for index, raw in enumerate(ctx.data["objects"]):
        if not isinstance(raw, dict):
            continue
        name = raw.get("name", raw.get("object"))
        if not isinstance(name, str):
            continue
        if name in first_use:
            path = ("objects", index, "name") if "name" in raw else ("objects", index)
            ctx.add(path, f"step name {name!r} is already used by objects[{first_use[name]}]; give "
                    "each step on the same object its own `name`")
        else:
            first_use[name] = index


def _check_load_order(ctx: PlanContext) -> None:
    known = ctx.all_objects() | {s.get("name") for s in ctx.data["objects"] if isinstance(s, dict)}
    known.discard(None)
    seen: set[str] = set()
    for i, entry in enumerate(ctx.data.get("load_order", ())):
        group = [(("load_order", i), entry)] if isinstance(entry, str) else \
            [(("load_order", i, j), e) for j, e in enumerate(entry)]
        for path, name in group:
            if name not in known:
                ctx.add(path, f"{name!r} is neither an object nor a step of this plan",
                        hint=did_you_mean(name, known))
            elif name in seen:
                ctx.add(path, f"{name!r} appears more than once in load_order")
            seen.add(name)


def _check_operation(ctx: PlanContext, index: int, step: ObjectSpec) -> None:
    raw = ctx.raw_step(index)
    if any(ctx.flaws.setting_cut(index, raw, key) for key in ("operation", "external_id", "id", "fields")):
        return  # the step's operation or key was cut: checking what is left would only mislead
    here: NodePath = ("objects", index)
    at_operation = (*here, "operation") if "operation" in raw else here
    mapped = {f.name for f in step.fields}
    if step.operation == "upsert":
        if not step.external_id:
            ctx.add(at_operation, f"upsert of {step.object} needs external_id (on the step or in "
                    "defaults): the field Salesforce matches existing records on")
        elif step.external_id != "Id" and step.external_id not in mapped:
            path = (*here, "external_id") if "external_id" in raw else at_operation
            ctx.add(path, f"upsert key {step.external_id!r} is not mapped in fields: the key column "
                    "must be sent", hint=did_you_mean(step.external_id, mapped))
        elif step.external_id == "Id" and step.id_source is None and "Id" not in mapped:
            ctx.add(at_operation, "upsert on Id needs `id` (the source column of record Ids)")
    if step.operation in ("update", *DELETE_OPERATIONS) and step.id_source is None:
        ctx.add(at_operation, f"{step.operation} needs `id`: the source column holding the "
                "Salesforce record Ids")
    if step.operation == "insert" and step.id_source is not None:
        ctx.add((*here, "id"), "insert creates records, so it takes no `id`; use upsert or update")
    if step.operation in DELETE_OPERATIONS:
        for key in ("fields", "lookups"):
            if raw.get(key):
                ctx.add((*here, key), f"{step.operation} sends only record Ids: remove `{key}`", key=True)


def _check_time_zone(ctx: PlanContext, path: NodePath, zone: str) -> None:
    if not _valid_time_zone(zone):
        ctx.add(path, f"unknown time zone {zone!r}",
                hint=did_you_mean(zone, _time_zones()) or "use an IANA name such as Europe/Paris")


def _check_formats(ctx: PlanContext, path: NodePath, formats: object) -> None:
    if formats is None:
        return
    items = [(path, formats)] if isinstance(formats, str) else \
        [((*path, i), f) for i, f in enumerate(formats)]  # type: ignore[arg-type]
    for item_path, text in items:
        if "%" not in text:
            guess = text
            for token, directive in _FORMAT_TOKENS:
                guess = guess.replace(token, directive)
            ctx.add(item_path, f"format {text!r} has no % directives; formats use strftime codes",
                    hint=f"did you mean {guess!r}?" if guess != text else "e.g. %d/%m/%Y")
            continue
        bad = [d for d in _DIRECTIVE.findall(text) if d not in _VALID_DIRECTIVES]
        if bad or (text.endswith("%") and not text.endswith("%%")):
            ctx.add(item_path, f"format {text!r} has an unknown directive %{bad[0] if bad else ''}")


def _check_fields(ctx: PlanContext, index: int, step: ObjectSpec) -> None:
    raw_fields: dict[str, Any] = ctx.raw_step(index).get("fields", {})
    for spec in step.fields:
        path: NodePath = ("objects", index, "fields", spec.name)
        raw = raw_fields[spec.name]
        if not isinstance(raw, dict) or ctx.flaws.touches(path):
            continue
        for option, types in OPTION_TYPES.items():
            if option in raw and spec.type not in types:
                ctx.add((*path, option), f"{option} applies to {' and '.join(types)} fields, and "
                        f"{spec.name} is {spec.type}" + ("" if "type" in raw else " (the default type)"),
                        key=True)
        if "ignore_case" in raw and spec.value_map is None and not spec.values:
            ctx.add((*path, "ignore_case"), "ignore_case applies to map and values; this field has "
                    "neither", key=True)
        if "timezone" in raw:
            _check_time_zone(ctx, (*path, "timezone"), raw["timezone"])
        if "format" in raw and spec.type in OPTION_TYPES["format"]:
            _check_formats(ctx, (*path, "format"), raw["format"])
        if spec.template is not None:
            _check_template(ctx, (*path, "template"), spec.template)
        if spec.source_id and (spec.source is None or spec.record_type or spec.user):
            ctx.add((*path, "source_id"), "source_id applies to a field read from a source column", key=True)
        elif spec.source_id and spec.name != step.external_id:
            ctx.add((*path, "source_id"), f"source_id marks the step's key field, and {step.name} is keyed by "
                    f"{step.external_id or 'nothing'}", hint=f"set external_id: {spec.name} on the step", key=True)
    lookups = {lk.field for lk in step.lookups}
    for name in sorted(lookups & set(raw_fields)):
        ctx.add(("objects", index, "lookups", name), f"{name} is both in fields and in lookups; keep "
                "one", key=True)


def _check_template(ctx: PlanContext, path: NodePath, text: str) -> None:
    try:
        template = compile_template(text)
    except TemplateError as exc:
        ctx.add(path, f"template error: {exc.message}", line=ctx.doc.text_line(path, exc.lineno or 1))
        return
    ctx.templates[path] = template
    _check_variables(ctx, path, template.variables, "template")


def _check_variables(ctx: PlanContext, path: NodePath, names: frozenset[str], what: str) -> None:
    if ctx.flaws.touches(("variables",)):
        return
    for name in sorted(names - set(ctx.declared)):
        ctx.add(path, f"{what} uses vars.{name}, which is not declared under variables",
                hint=did_you_mean(name, ctx.declared))


def _check_where(ctx: PlanContext, index: int, step: ObjectSpec) -> None:
    if step.where is None:
        return
    path: NodePath = ("objects", index, "where")
    try:
        flt = compile_where(step.where)
    except WhereSyntaxError as exc:
        inner = step.where[: (exc.offset or 1) - 1].count("\n") + 1
        ctx.add(path, f"invalid where filter: {exc}", line=ctx.doc.text_line(path, inner))
        return
    ctx.filters[path] = flt
    _check_variables(ctx, path, flt.variables, "where filter")


def _check_lookups(ctx: PlanContext, index: int, step: ObjectSpec) -> None:
    known = ctx.all_objects(loaded=True)
    loading = [s for _, s in ctx.steps if s.operation not in DELETE_OPERATIONS]
    unchecked = known - {s.object for s in loading}  # loaded only by steps with schema errors
    raw_lookups: dict[str, Any] = ctx.raw_step(index).get("lookups", {})
    for lookup in step.lookups:
        path: NodePath = ("objects", index, "lookups", lookup.field)
        raw = raw_lookups[lookup.field]
        to_path = (*path, "to")
        for position, target in enumerate(lookup.targets):
            target_path = to_path if isinstance(raw["to"], str) else (*to_path, position)
            if target not in known and not lookup.existing:
                ctx.add(target_path, f"{target} is not loaded by any step of this plan (add a step, "
                        "or set existing: true if the records are already in the org)",
                        hint=did_you_mean(target, known))
            elif lookup.key is None and target not in unchecked and not ctx.keys_cut(target):
                _check_parent_key(ctx, path, lookup.field, target, [s for s in loading if s.object == target])
        multiple = len(lookup.targets) > 1
        if multiple and lookup.type_source is None:
            ctx.add(path, "a lookup to several objects needs type_from (the column naming each "
                    "row's parent type)", key=True)
        if "type" in raw and multiple:
            ctx.add((*path, "type"), "type is for a lookup with one `to`; with several use type_from",
                    key=True)
        elif "type" in raw and raw["type"] != lookup.targets[0]:
            ctx.add((*path, "type"), f"type {raw['type']!r} differs from to {lookup.targets[0]!r}")
        if lookup.type_map is not None and lookup.type_source is None:
            ctx.add((*path, "types"), "types translates type_from values; set type_from", key=True)
        for value, target in (lookup.type_map or {}).items():
            if target not in lookup.targets:
                ctx.add((*path, "types", value), f"{target} is not one of the lookup's `to` objects",
                        hint=did_you_mean(target, lookup.targets))


def _check_parent_key(ctx: PlanContext, path: NodePath, field_name: str, target: str,
                      parents: list[ObjectSpec]) -> None:
    """Without `key`, a lookup matches the parent step's external id, which that step must send."""
    keyed = [s for s in parents if s.external_id]
    if not keyed:
        ctx.add(path, f"no key to match {target} records: set `key`, or give the step loading "
                f"{target} an external_id", key=True)
    elif not any(s.field_spec(s.external_id or "") or s.external_id == "Id" for s in keyed):
        key = keyed[0].external_id
        ctx.add(path, f"{field_name} matches {target} on {key}, but no step loading {target} maps "
                f"{key} in its fields (or set `key`)", key=True)
