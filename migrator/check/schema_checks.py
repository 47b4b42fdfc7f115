"""The plan against the target's describe: everything that would make a job or every row fail.

For each step: the object exists and takes the operation; every mapped field exists and is
createable (insert, upsert) or updateable (update, upsert); the upsert key is an external id or
idLookup field; a lookup is a reference field whose referenceTo includes every `to:` object, under
the relationship name the plan uses, matching parents on an external id or idLookup field of the
parent; every field required on create is mapped, has a default in the plan, or is defaulted by
the org; a record type named in the plan exists. Each problem carries the plan's file:line.
What a schema problem cut out of the plan (`PlanContext.flaws`) is not judged: the schema problem
already says what is wrong there, and checking what the cut left would report problems the user
did not write (a required field "unmapped" because its lookup was cut, say).

`TargetCheck` runs inside `load_plan` (so it sees every step with its position) but keeps its
problems apart: `migrator check` goes on to check the data and predict, and `run` refuses to send.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from migrator.check.schema import FieldInfo, ObjectInfo, TargetSchema
from migrator.compile.binary_files import resolves_document
from migrator.errors import Problem
from migrator.plan.checks import PlanContext
from migrator.plan.model import DELETE_OPERATIONS, LookupSpec, ObjectSpec
from migrator.plan.positions import Path as NodePath
from migrator.plan.positions import format_path
from migrator.plan.suggest import closest


class SchemaSource(Protocol):
    """Where a check learns the target's schema: a live describe, or snapshot files."""

    source: str

    def schema(self, names: Iterable[str]) -> TargetSchema: ...

    def object_names(self) -> dict[str, str]: ...


class SnapshotSource:
    """A schema read from files (`check --schema`): it knows its objects and nothing else."""

    def __init__(self, schema: TargetSchema):
        self._schema, self.source = schema, schema.source

    def schema(self, names: Iterable[str]) -> TargetSchema:
        return self._schema

    def object_names(self) -> dict[str, str]:
        return {name.lower(): name for name in self._schema.objects}


def _hint(word: str, candidates: Iterable[str]) -> str | None:
    match = closest(word, candidates)
    return f"did you mean {match!r}?" if match else None


class TargetCheck:
    """A `PlanCheck` collecting the plan's problems against the target (see the module docstring)."""

    def __init__(self, source: SchemaSource):
        self.source = source
        self.problems: list[Problem] = []
        self.schema = TargetSchema(objects={}, source=source.source)

    def __call__(self, ctx: PlanContext) -> None:
        names = [s.object for _, s in ctx.steps] + [t for _, s in ctx.steps for lk in s.lookups for t in lk.targets]
        self.schema = self.source.schema(names)
        self._ctx = ctx
        for index, step in ctx.steps:
            if ctx.flaws.touches(("objects", index, "object")):
                continue
            obj = self.schema.get(step.object)
            if obj is None:
                self._add(("objects", index, "object"), f"{self.source.source} has no object {step.object!r}",
                          _hint(step.object, self.source.object_names().values()))
                continue
            self._check_step(index, step, obj)

    def _add(self, path: NodePath, message: str, hint: str | None = None, *, key: bool = False) -> None:
        ctx = self._ctx
        self.problems.append(Problem(message, file=ctx.file, line=ctx.doc.line_of(path, key=key),
                                     path=format_path(path) or None, hint=hint))

    # --- one step --------------------------------------------------------------------------------

    def _check_step(self, index: int, step: ObjectSpec, obj: ObjectInfo) -> None:
        here: NodePath = ("objects", index)
        raw = self._ctx.raw_step(index)
        flaws = self._ctx.flaws
        # a cut operation leaves the default one in the step: judge only what does not depend on it
        operation = None if flaws.setting_cut(index, raw, "operation") else step.operation
        at_operation = (*here, "operation") if "operation" in raw else here
        verbs = {"insert": ("createable",), "upsert": ("createable", "updateable"), "update": ("updateable",),
                 "delete": ("deletable",), "hardDelete": ("deletable",), None: ()}[operation]
        for verb in verbs:
            if not getattr(obj, verb):
                self._add(at_operation, f"{obj.name} is not {verb}, so it cannot take {step.operation}")
        if operation in DELETE_OPERATIONS:
            return
        for spec in step.fields:
            path: NodePath = (*here, "fields", spec.name)
            if not flaws.touches(path):
                self._check_field(obj, operation, path, spec.name, record_type=spec.record_type,
                                  constant=spec.value if spec.record_type else None, user=spec.user)
        if operation == "upsert" and step.external_id and step.external_id != "Id" \
                and not flaws.setting_cut(index, raw, "external_id"):
            self._check_key(obj, step.external_id, (*here, "external_id") if "external_id" in raw else at_operation,
                            "the upsert key")
        for lookup in step.lookups:
            if not flaws.touches((*here, "lookups", lookup.field)):
                self._check_lookup(obj, operation, index, lookup)
        mapped_cut = flaws.cut((*here, "fields")) or flaws.touches((*here, "lookups"))  # a field kept its name
        if operation in ("insert", "upsert") and not mapped_cut:
            self._check_required(obj, step, here)

    def _writable(self, obj: ObjectInfo, info: FieldInfo, operation: str | None, path: NodePath) -> None:
        needs = {"insert": ("createable",), "upsert": ("createable", "updateable"), "update": ("updateable",)}
        for flag in needs.get(operation or "", ()):
            if not getattr(info, flag):
                verb = "created" if flag == "createable" else "updated"
                self._add(path, f"{obj.name}.{info.name} is not {flag}: the org refuses it in rows to be {verb}",
                          key=True)

    def _check_field(self, obj: ObjectInfo, operation: str | None, path: NodePath, name: str, *,
                     record_type: bool = False, constant: str | None = None, user: bool = False) -> FieldInfo | None:
        info = obj.field(name)
        if info is None:
            self._add(path, f"{obj.name} has no field {name!r}", _hint(name, obj.fields), key=True)
            return None
        self._writable(obj, info, operation, path)
        if record_type:
            if info.type != "reference" or "RecordType" not in info.reference_to:
                self._add(path, f"record_type applies to a lookup to RecordType; {obj.name}.{info.name} is "
                          f"{info.type}", key=True)
            elif constant is not None and obj.record_type(constant) is None:
                known = ", ".join(rt.developer_name for rt in obj.record_types) or "none"
                self._add((*path, "record_type", "value"), f"{obj.name} has no record type {constant!r} "
                          f"(known: {known})", _hint(constant, [rt.developer_name for rt in obj.record_types]))
        if user and (info.type != "reference" or "User" not in info.reference_to):
            self._add(path, f"user applies to a lookup to User; {obj.name}.{info.name} is {info.type}", key=True)
        return info

    def _check_key(self, obj: ObjectInfo, key: str, path: NodePath, what: str) -> None:
        info = obj.field(key)
        if info is None:
            self._add(path, f"{what} {key!r} is not a field of {obj.name}", _hint(key, obj.fields))
        elif not (info.external_id or info.id_lookup):
            self._add(path, f"{what} {obj.name}.{info.name} is neither an external id nor an idLookup field, so "
                      "the org cannot match records on it")

    def _check_lookup(self, obj: ObjectInfo, operation: str | None, index: int, lookup: LookupSpec) -> None:
        path: NodePath = ("objects", index, "lookups", lookup.field)
        info = self._check_field(obj, operation, path, lookup.field)
        if info is None:
            return
        if info.type != "reference":
            self._add(path, f"{obj.name}.{info.name} is a {info.type} field, not a lookup", key=True)
            return
        raw_to = self._ctx.raw_step(index)["lookups"][lookup.field]["to"]
        allowed = {t.lower() for t in info.reference_to}
        for position, target in enumerate(lookup.targets):
            to_path = (*path, "to") if isinstance(raw_to, str) else (*path, "to", position)
            if target.lower() not in allowed and not resolves_document(info.name, target):
                self._add(to_path, f"{obj.name}.{info.name} cannot point at {target}: it refers to "
                          f"{', '.join(info.reference_to)}", _hint(target, info.reference_to))
                continue
            self._check_parent_key(lookup, target, to_path)
        if info.relationship_name and lookup.relationship_name.lower() != info.relationship_name.lower():
            at = (*path, "relationship") if lookup.relationship else path
            self._add(at, f"the relationship name of {obj.name}.{info.name} is {info.relationship_name!r}, not "
                      f"{lookup.relationship_name!r}", f"set relationship: {info.relationship_name}",
                      key=not lookup.relationship)

    def _check_parent_key(self, lookup: LookupSpec, target: str, path: NodePath) -> None:
        parent = self.schema.get(target)
        if parent is None:
            self._add(path, f"{self.source.source} has no object {target!r}")
            return
        if lookup.key is None and self._ctx.keys_cut(target):
            return  # the parent step's key was cut: what it matches on is not known
        key = lookup.key or next((s.external_id for _, s in self._ctx.steps if s.object == target and s.external_id),
                                 None)
        if key and key != "Id":
            self._check_key(parent, key, path, f"the parent key of {lookup.field}")

    def _check_required(self, obj: ObjectInfo, step: ObjectSpec, here: NodePath) -> None:
        given = {f.name.lower() for f in step.fields} | {lk.field.lower() for lk in step.lookups}
        missing = sorted(f.name for f in obj.fields.values() if f.required_on_create and f.name.lower() not in given)
        for name in missing:
            self._add((*here, "fields") if "fields" in self._ctx.raw_step(here[1]) else here,
                      f"{obj.name}.{name} is required on create: map it, give it a default, or `value`", key=True)
