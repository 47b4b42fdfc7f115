"""A plan step read backwards: which fields of the source org fill which source columns.

A plan says how source columns become fields; an extract needs the inverse, column by column:

- a field read from a column comes back from that field (a one-to-one `map` inverted; a record
  type by its DeveloperName, a user by Username or Email, a `source_id` key from the record's Id
  where the field is blank);
- a lookup comes back as the parent's key through the relationship (``Parent.Legacy_Id__c``);
  a polymorphic one as the parent's Id and type, turned into the key of the parent's step (SOQL
  cannot read a custom field through a polymorphic relationship), with the type column written
  back in the plan's own spelling;
- what the plan computes (constants, templates, many-to-one maps) is not extracted: the
  manifest lists it, and a reload computes it again. Columns only a `where:` or a template reads
  are written blank, so the plan still finds every column it reads.

Pure: the source org's schema comes in as a `TargetSchema`, problems go out as located Problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from migrator.check.schema import INTEGER_TYPES, NUMBER_TYPES, ObjectInfo, TargetSchema
from migrator.errors import Problem
from migrator.plan.model import DELETE_OPERATIONS, FieldSpec, LookupSpec, ObjectSpec, Plan
from migrator.plan.templating import compile_template
from migrator.plan.where import compile_where

ID = "Id"


@dataclass(frozen=True)
class ValueMap:
    """A plan `map` inverted (target value -> source value), and what a reload does with other values:
    unlisted ones become `default` (when set) or stay as they are unless they are themselves keys."""

    inverse: Mapping[str, str]
    keys: frozenset[str]
    ignore_case: bool
    default: str | None


@dataclass(frozen=True)
class FieldColumn:
    """A column filled from one SOQL path (a field, ``RecordType.DeveloperName``, ``Owner.Username``)."""

    column: str
    path: str
    field: str
    values: ValueMap | None = None
    default: str | None = None  # the plan's default: a blank loads back as it
    number: bool = False  # normalise the org's number text (1250000000.0 -> 1250000000)
    decimal: str = "."
    fallback_id: bool = False  # source_id: the record's Id where the field is blank


@dataclass(frozen=True)
class LookupColumn:
    """A column of parent keys read through the relationship; with `fallback_id`, the parent's Id where
    its key is blank (the parent's step keys records by source Id)."""

    column: str
    field: str
    path: str | None  # Relationship.Key, None when the source parent has no such field (Ids only)
    fallback_id: bool = False


@dataclass(frozen=True)
class PolymorphicColumn:
    """A column of parent keys of a polymorphic lookup: each row's parent Id is looked up among the
    records of the parent type's step (or, for parents the extract did not read, asked of the org)."""

    column: str
    field: str
    type_path: str  # Relationship.Type
    keys: Mapping[str, str]  # parent object -> its key field
    fallback_id: Mapping[str, bool] = field(default_factory=dict)  # parent object -> keyed by source Id


@dataclass(frozen=True)
class TypeColumn:
    """The `type_from` column of a polymorphic lookup: each row's parent type in the plan's spelling."""

    column: str
    field: str  # the lookup's column holds the link; no link, no type
    type_path: str
    aliases: Mapping[str, str]  # object -> the value the plan's `types` maps to it


@dataclass(frozen=True)
class IdColumn:
    column: str


@dataclass(frozen=True)
class BlankColumn:
    column: str
    reason: str


Column = FieldColumn | LookupColumn | PolymorphicColumn | TypeColumn | IdColumn | BlankColumn


@dataclass(frozen=True)
class Computed:
    """A field the plan computes, so it is not extracted."""

    field: str
    reason: str


@dataclass(frozen=True)
class StepReadBack:
    """Everything an extract needs to know about one step: what to select, how to fill each column,
    where the file goes, and which column it is sorted by."""

    step: str
    object: str
    file: str  # relative to the output folder
    pattern: str
    encoding: str
    delimiter: str
    columns: tuple[Column, ...]
    select: tuple[str, ...]  # SOQL paths, Id first
    key_column: str | None
    key_field: str | None
    key_fallback_id: bool
    computed: tuple[Computed, ...]
    links: tuple[tuple[str, tuple[str, ...]], ...]  # (lookup field, in-plan parent steps) for subsets
    where: str | None
    binaries: tuple[tuple[str, str], ...] = ()  # (column, binary field) of `{file: column}` fields: downloaded

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns)


def extractable(step: ObjectSpec) -> bool:
    """Delete steps clear records; there is nothing of theirs to extract."""
    return step.operation not in DELETE_OPERATIONS


def output_file(pattern: str) -> str:
    """The file an extract writes for a source pattern: the name itself, or for a glob a name it
    matches (``exports/acc-*.csv`` -> ``exports/acc-extract.csv``)."""
    parts = []
    for part in PurePosixPath(pattern.replace("\\", "/")).parts:
        if part == "**":
            continue
        name, out, i = part, "", 0
        while i < len(name):
            ch = name[i]
            if ch == "*":
                out += "extract" if not out.endswith("extract") else ""
            elif ch == "?":
                out += "x"
            elif ch == "[":
                end = name.find("]", i + 1)
                body = name[i + 1:end] if end > i else ""
                choice = body.lstrip("!^")[:1] if body and body[0] not in "!^" else "x"
                out += choice or "x"
                i = end if end > i else i
            else:
                out += ch
            i += 1
        parts.append(out)
    return "/".join(parts)


def _invert(spec: FieldSpec) -> ValueMap | str | None:
    """The inverted map, None without a map, or the reason it cannot be inverted."""
    if spec.value_map is None:
        return None
    inverse: dict[str, str] = {}
    for key, value in spec.value_map.items():
        if value is None or value == "":
            continue
        if value in inverse:
            return f"many-to-one map ({inverse[value]!r} and {key!r} both give {value!r})"
        inverse[value] = key
    keys = frozenset(k.lower() if spec.map_ignore_case else k for k in spec.value_map)
    return ValueMap(inverse=inverse, keys=keys, ignore_case=spec.map_ignore_case, default=spec.default)


class _Builder:
    def __init__(self, plan: Plan, step: ObjectSpec, schema: TargetSchema):
        self.plan, self.step, self.schema = plan, step, schema
        self.obj: ObjectInfo | None = schema.get(step.object)
        self.problems: list[Problem] = []
        self.columns: dict[str, Column] = {}
        self.binaries: list[tuple[str, str]] = []
        self.select: list[str] = [ID]
        self.computed: list[Computed] = []

    def problem(self, message: str, where: object, hint: str | None = None) -> None:
        location = getattr(where, "location", None)
        self.problems.append(Problem(message, file=getattr(location, "file", None),
                                     line=getattr(location, "line", None), path=getattr(location, "path", None),
                                     hint=hint))

    def add_select(self, path: str) -> None:
        if path.lower() not in {p.lower() for p in self.select}:
            self.select.append(path)

    def put(self, column: Column) -> None:
        if column.column not in self.columns or isinstance(self.columns[column.column], BlankColumn):
            self.columns[column.column] = column

    def has_field(self, name: str) -> bool:
        return self.obj is not None and self.obj.field(name) is not None

    def real_name(self, name: str) -> str:
        info = self.obj.field(name) if self.obj else None
        return info.name if info else name

    # --- fields ---------------------------------------------------------------------------------

    def field(self, spec: FieldSpec) -> None:
        if spec.value is not None:
            self.computed.append(Computed(spec.name, "a constant value"))
            return
        if spec.template is not None:
            self.computed.append(Computed(spec.name, "a template"))
            self.blank_columns(self.template_columns(spec.template), f"read by the template of {spec.name}")
            return
        inverted = _invert(spec)
        if isinstance(inverted, str):
            self.computed.append(Computed(spec.name, inverted))
            self.put(BlankColumn(spec.source or spec.name, f"{spec.name} has a {inverted}"))
            return
        column = spec.source or spec.name
        if spec.file:  # the bytes are downloaded into the files folder; the column names where
            if not self.has_field(spec.name):
                self.problem(f"{self.step.object} has no field {spec.name!r} in the source org", spec)
                return
            self.binaries.append((column, self.real_name(spec.name)))
            self.put(BlankColumn(column, f"the path of the file {spec.name} is downloaded to, in the files folder"))
            return
        if spec.record_type:
            self.named(spec, column, "RecordType", "DeveloperName", inverted, "the object has no record types")
            return
        if spec.user:
            name_field = "Email" if self.plan.users.match == "email" else "Username"
            self.named(spec, column, None, name_field, inverted, "")
            return
        if not self.has_field(spec.name):
            if spec.source_id:
                self.put(IdColumn(column))  # the source org has no such field: its records are keyed by Id
                return
            self.problem(f"{self.step.object} has no field {spec.name!r} in the source org", spec)
            return
        info = self.obj.field(spec.name) if self.obj else None
        path = self.real_name(spec.name)
        self.add_select(path)
        number = info is not None and info.type in NUMBER_TYPES | INTEGER_TYPES
        self.put(FieldColumn(column, path, spec.name, values=inverted, default=spec.default, number=number,
                             decimal=spec.decimal, fallback_id=spec.source_id))

    def named(self, spec: FieldSpec, column: str, relationship: str | None, name_field: str,
              inverted: ValueMap | None, missing: str) -> None:
        """A record type or user: the parent's name through the lookup's relationship."""
        info = self.obj.field(spec.name) if self.obj else None
        if info is None:
            if missing:
                self.put(BlankColumn(column, f"{spec.name}: {missing} in the source org"))
            else:
                self.problem(f"{self.step.object} has no field {spec.name!r} in the source org", spec)
            return
        rel = info.relationship_name or relationship or (spec.name[:-2] if spec.name.endswith("Id") else spec.name)
        path = f"{rel}.{name_field}"
        self.add_select(path)
        self.put(FieldColumn(column, path, spec.name, values=inverted, default=spec.default))

    # --- lookups --------------------------------------------------------------------------------

    def parent_key(self, lookup: LookupSpec, target: str) -> tuple[str | None, bool]:
        """(the key field children reference on `target`, whether that step keys by source Id)."""
        steps = self.plan.steps_for_object(target)
        if lookup.key:
            fallback = any(s.field_spec(lookup.key) is not None and s.field_spec(lookup.key).source_id
                           for s in steps)
            return lookup.key, fallback
        for parent in steps:
            if parent.external_id:
                spec = parent.field_spec(parent.external_id)
                return parent.external_id, bool(spec is not None and spec.source_id)
        return None, False

    def lookup(self, lookup: LookupSpec) -> None:
        info = self.obj.field(lookup.field) if self.obj else None
        if info is None:
            self.problem(f"{self.step.object} has no field {lookup.field!r} in the source org", lookup)
            return
        field_name = info.name
        self.add_select(field_name)
        rel = info.relationship_name or lookup.relationship_name
        if lookup.polymorphic or info.polymorphic or len(lookup.targets) > 1:
            self.polymorphic(lookup, field_name, rel)
            return
        target = lookup.targets[0]
        key, fallback = self.parent_key(lookup, target)
        if key is None:
            self.problem(f"{lookup.field}: the parent {target} has no key to extract it by (give the lookup a "
                         "key, or the parent's step an external_id)", lookup)
            return
        parent = self.schema.get(target)
        if parent is not None and parent.field(key) is not None:
            path = f"{rel}.{parent.field(key).name}"
            self.add_select(path)
            self.put(LookupColumn(lookup.source, field_name, path, fallback_id=fallback))
        elif fallback or key == ID:
            self.put(LookupColumn(lookup.source, field_name, None, fallback_id=True))
        else:
            self.problem(f"{lookup.field}: {target} has no field {key!r} in the source org", lookup)

    def polymorphic(self, lookup: LookupSpec, field_name: str, rel: str) -> None:
        type_path = f"{rel}.Type"
        self.add_select(type_path)
        keys: dict[str, str] = {}
        fallback: dict[str, bool] = {}
        for target in lookup.targets:
            key, via_id = self.parent_key(lookup, target)
            if key is None:
                self.problem(f"{lookup.field}: the parent {target} has no key to extract it by", lookup)
                continue
            keys[target], fallback[target] = key, via_id
        self.put(PolymorphicColumn(lookup.source, field_name, type_path, keys, fallback))
        if lookup.type_source:
            aliases: dict[str, str] = {}
            for alias, target in (lookup.type_map or {}).items():
                aliases.setdefault(target, alias)
            for target in lookup.targets:
                aliases.setdefault(target, target)
            self.put(TypeColumn(lookup.type_source, lookup.source, type_path, aliases))

    # --- columns the plan reads but no field fills -------------------------------------------------

    @staticmethod
    def template_columns(text: str) -> list[str]:
        try:
            return sorted(compile_template(text).columns)
        except Exception:  # the plan checks reported it already
            return []

    def blank_columns(self, columns: list[str], reason: str) -> None:
        for column in columns:
            if column not in self.columns:
                self.columns[column] = BlankColumn(column, reason)

    def where_columns(self) -> list[str]:
        if not self.step.where:
            return []
        try:
            return sorted(compile_where(self.step.where).columns)
        except Exception:
            return []


def read_back(plan: Plan, step: ObjectSpec, schema: TargetSchema) -> tuple[StepReadBack, list[Problem]]:
    """The step read backwards against the source org's schema, and the problems found (fields the
    source org does not have, lookups without a key to extract)."""
    builder = _Builder(plan, step, schema)
    if step.source.generate is not None:  # the run would generate its rows again, not load the org's
        builder.problem(f"step {step.name} generates its rows (source.generate): there is no source file to "
                        "extract its records into", step.source,
                        hint="leave it out with --select, or give it a file source to extract and copy it")
    elif builder.obj is None:
        builder.problem(f"the source org has no object {step.object!r}", step)
    else:
        for spec in step.fields:
            builder.field(spec)
        for lookup in step.lookups:
            builder.lookup(lookup)
        if step.id_source:
            builder.put(IdColumn(step.id_source))
        templates = [c for spec in step.fields if spec.template for c in builder.template_columns(spec.template)]
        builder.blank_columns(templates, "read by a template")
        builder.blank_columns(builder.where_columns(), "read by the step's where")
    key_spec = step.field_spec(step.external_id) if step.external_id else None
    key_column = (key_spec.source if key_spec is not None and key_spec.source else
                  step.id_source if step.external_id == ID or step.operation == "update" else None)
    links = tuple(
        (lk.field, tuple(s.name for t in lk.targets for s in plan.steps_for_object(t) if extractable(s)))
        for lk in step.lookups if not lk.existing and builder.obj is not None and builder.obj.field(lk.field))
    readback = StepReadBack(
        step=step.name, object=builder.obj.name if builder.obj else step.object,
        file=output_file(step.source.pattern), pattern=step.source.pattern, encoding=step.source.encoding,
        delimiter=step.source.delimiter, columns=tuple(builder.columns.values()), select=tuple(builder.select),
        key_column=key_column, key_field=step.external_id, key_fallback_id=bool(key_spec and key_spec.source_id),
        computed=tuple(builder.computed), links=links, where=step.where, binaries=tuple(builder.binaries))
    return readback, builder.problems
