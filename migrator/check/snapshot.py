"""Org schema YAML <-> `TargetSchema`: reading schema files and snapshots, writing snapshots.

The format is the local org's (docs/local-org.md, "Org schema YAML"): the bundled standard objects
extended by each file in turn, or, in a document with ``complete: true`` (a snapshot written by
`migrator describe`), objects described in full that replace the bundled ones. This is check's own
reading of that documented format: nothing here depends on the local org's code, which imports
nothing either, so the two are independent readings of one format, and a round trip
(describe -> serve -> describe) shows they agree.

Snapshots are written sorted (objects, fields, record types by name), with each attribute left
out when it equals what the format implies, and without timestamps or URLs, so that the same org
always gives the same bytes and a diff shows exactly what changed in the org.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from migrator.check.schema import (
    INTEGER_TYPES,
    NUMBER_TYPES,
    FieldInfo,
    ObjectInfo,
    PicklistEntry,
    RecordTypeInfo,
    TargetSchema,
)
from migrator.errors import SchemaFileError

TYPE_ALIASES = {"text": "string", "number": "double", "integer": "int", "checkbox": "boolean",
                "lookup": "reference", "longtextarea": "textarea"}
KNOWN_TYPES = frozenset({"id", "string", "textarea", "picklist", "multipicklist", "email", "phone", "url",
                         "reference", "combobox", "encryptedstring", "time", "anyType", "double", "currency",
                         "percent", "int", "long", "boolean", "date", "datetime", "base64"})
COMPOUND_TYPES = frozenset({"address", "location", "complexvalue"})
DEFAULT_LENGTHS = {"string": 255, "textarea": 32768, "email": 80, "phone": 40, "url": 255, "picklist": 255,
                   "multipicklist": 4099, "id": 18, "reference": 18, "combobox": 255, "encryptedstring": 175}
LENGTH_TYPES = frozenset(DEFAULT_LENGTHS)
# Fields every object has; the format adds them, files do not list them.
SYSTEM_FIELDS = (
    FieldInfo("Id", "id", "Record ID", length=18, nillable=False, createable=False, updateable=False,
              id_lookup=True, defaulted_on_create=True),
    FieldInfo("IsDeleted", "boolean", "Deleted", nillable=False, createable=False, updateable=False,
              defaulted_on_create=True),
    FieldInfo("CreatedDate", "datetime", "Created Date", nillable=False, createable=False, updateable=False,
              defaulted_on_create=True),
    FieldInfo("CreatedById", "reference", "Created By ID", length=18, nillable=False, createable=False,
              updateable=False, defaulted_on_create=True, reference_to=("User",), relationship_name="CreatedBy"),
    FieldInfo("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, createable=False,
              updateable=False, defaulted_on_create=True),
    FieldInfo("LastModifiedById", "reference", "Last Modified By ID", length=18, nillable=False, createable=False,
              updateable=False, defaulted_on_create=True, reference_to=("User",),
              relationship_name="LastModifiedBy"),
    FieldInfo("SystemModstamp", "datetime", "System Modstamp", nillable=False, createable=False, updateable=False,
              defaulted_on_create=True),
)
RECORD_TYPE_ID = FieldInfo("RecordTypeId", "reference", "Record Type ID", length=18, reference_to=("RecordType",),
                           relationship_name="RecordType")
PERSON_NAME = FieldInfo("Name", "string", "Full Name", length=121, createable=False, updateable=False)
# What the local org bundles: the standard objects, and the objects migrator keeps in an org itself
BUNDLED = ("standard_objects.yaml", "migrator_objects.yaml")


# --- reading ----------------------------------------------------------------------------------


def default_label(name: str) -> str:
    return name.removesuffix("__c").replace("_", " ")


def default_relationship_name(name: str) -> str:
    if name.endswith("__c"):
        return name[:-3] + "__r"
    if name.endswith("Id") and len(name) > 2:
        return name[:-2]
    return name


def _kind(spec: Mapping[str, Any]) -> str:
    raw = str(spec.get("type", "string"))
    kind = TYPE_ALIASES.get(raw.lower(), raw)
    return {k.lower(): k for k in KNOWN_TYPES | COMPOUND_TYPES}.get(kind.lower(), kind)


def _picklist(values: Iterable[Any]) -> tuple[PicklistEntry, ...]:
    entries = []
    for v in values:
        if isinstance(v, Mapping):
            entries.append(PicklistEntry(str(v["value"]), str(v.get("label", v["value"])),
                                         bool(v.get("active", True)), bool(v.get("default", False))))
        else:
            entries.append(PicklistEntry(str(v), str(v)))
    return tuple(entries)


def _field(name: str, spec: Any, where: str) -> FieldInfo:
    if not isinstance(spec, Mapping):
        raise SchemaFileError(f"{where}: field {name}: expected a mapping of attributes, got {spec!r}")
    kind = _kind(spec)
    if kind not in KNOWN_TYPES:
        raise SchemaFileError(f"{where}: field {name}: unknown type {kind!r}")
    targets = spec.get("reference_to", spec.get("to", ()))
    targets = (targets,) if isinstance(targets, str) else tuple(str(t) for t in targets)
    if kind == "reference" and not targets:
        raise SchemaFileError(f"{where}: field {name}: a reference needs `to`")
    external = bool(spec.get("external_id", False))
    picklist = _picklist(spec.get("values", ()))
    default = spec.get("default", next((p.value for p in picklist if p.default), None))
    return FieldInfo(
        name=name, type=kind, label=str(spec.get("label", default_label(name))),
        length=int(spec.get("length", DEFAULT_LENGTHS.get(kind, 0))),
        precision=int(spec.get("precision", 18 if kind in NUMBER_TYPES | INTEGER_TYPES else 0)),
        scale=int(spec.get("scale", 2 if kind in ("currency", "percent") else 0)),
        nillable=not bool(spec.get("required", False)) and bool(spec.get("nillable", True)),
        createable=bool(spec.get("createable", True)), updateable=bool(spec.get("updateable", True)),
        defaulted_on_create=bool(spec.get("defaulted_on_create", default is not None or kind == "boolean")),
        external_id=external, id_lookup=bool(spec.get("id_lookup", external)),
        unique=bool(spec.get("unique", False)), case_sensitive=bool(spec.get("case_sensitive", False)),
        reference_to=targets,
        relationship_name=spec.get("relationship_name") or (default_relationship_name(name)
                                                            if kind == "reference" else None),
        child_relationship_name=spec.get("child_relationship_name"),
        picklist=picklist, restricted=bool(spec.get("restricted", False)),
        default=default, calculated=bool(spec.get("calculated", False)),
        auto_number=bool(spec.get("auto_number", False)),
    )


def _record_types(spec: Any, where: str) -> tuple[RecordTypeInfo, ...]:
    if not isinstance(spec, Mapping):
        raise SchemaFileError(f"{where}: record_types: expected a mapping of DeveloperName to label, got {spec!r}")
    found = []
    for name, value in spec.items():
        detail = value if isinstance(value, Mapping) else {"label": value}
        found.append(RecordTypeInfo(str(name), str(detail.get("label") or default_label(str(name))),
                                    bool(detail.get("active", True))))
    return tuple(sorted(found, key=lambda rt: rt.developer_name))


def _with_person_name(fields: dict[str, FieldInfo]) -> dict[str, FieldInfo]:
    """Contact, Lead and User have a read-only compound Name ("First Last") the format does not list."""
    if "Name" not in fields and "LastName" in fields:
        fields["Name"] = PERSON_NAME
    return fields


def _object(name: str, spec: Any, where: str, base: ObjectInfo | None, complete: bool) -> ObjectInfo:
    if not isinstance(spec, Mapping):
        raise SchemaFileError(f"{where}: object {name}: expected a mapping, got {spec!r}")
    extend = base is not None and not complete
    fields: dict[str, FieldInfo] = dict(base.fields) if extend and base else {f.name: f for f in SYSTEM_FIELDS}
    for field_name, field_spec in (spec.get("fields") or {}).items():
        if _kind(field_spec if isinstance(field_spec, Mapping) else {}) in COMPOUND_TYPES:
            continue
        info = _field(str(field_name), field_spec or {}, f"{where}: object {name}")
        fields[info.name] = info
    label = str(spec.get("label", base.label if extend and base else default_label(name)))
    inherit = base if extend else None
    record_types = (_record_types(spec["record_types"], f"{where}: object {name}") if "record_types" in spec
                    else (inherit.record_types if inherit else ()))
    if record_types and "RecordTypeId" not in fields:  # as in Salesforce, an object with record types has it
        fields["RecordTypeId"] = RECORD_TYPE_ID
    return ObjectInfo(
        name=name, fields=_with_person_name(fields), label=label,
        label_plural=str(spec.get("label_plural", inherit.label_plural if inherit else label + "s")),
        key_prefix=spec.get("key_prefix", base.key_prefix if base else None),
        custom=name.endswith("__c"),
        createable=bool(spec.get("createable", inherit.createable if inherit else True)),
        updateable=bool(spec.get("updateable", inherit.updateable if inherit else True)),
        deletable=bool(spec.get("deletable", inherit.deletable if inherit else True)),
        queryable=bool(spec.get("queryable", inherit.queryable if inherit else True)),
        record_types=record_types,
    )


def merge_document(schema: TargetSchema, document: Any, where: str) -> TargetSchema:
    """Add (or, in a complete document, replace) the objects of one YAML document."""
    if not isinstance(document, Mapping):
        raise SchemaFileError(f"{where}: expected a mapping with an `objects` key")
    objects = dict(schema.objects)
    complete = bool(document.get("complete", False))
    for name, spec in (document.get("objects") or {}).items():
        base = schema.get(str(name))
        obj = _object(base.name if base else str(name), spec or {}, where, base, complete)
        objects[obj.name] = obj
    return TargetSchema(objects=objects, source=", ".join(s for s in (schema.source, where) if s))


def _parse(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SchemaFileError(f"{where}: not valid YAML: {exc}") from None


def bundled_schema() -> TargetSchema:
    """The objects the local org ships with (read as data from its package): the standard objects
    and migrator's own (its migration history)."""
    schema = TargetSchema(objects={})
    for name in BUNDLED:
        text = resources.files("migrator.localorg").joinpath(name).read_text("utf-8")
        schema = merge_document(schema, _parse(text, name), name)
    return replace(schema, source="standard objects")


def load_schema_files(files: Iterable[Path], *, standard: bool = True) -> TargetSchema:
    """The bundled standard objects (unless `standard` is false) extended by each file in turn:
    what `migrator serve --schema FILE ...` serves."""
    schema = bundled_schema() if standard else TargetSchema(objects={})
    for path in files:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise SchemaFileError(f"{path}: cannot read the schema file ({exc.strerror or exc})") from None
        schema = merge_document(schema, _parse(text, str(path)), str(path))
    return schema


# --- writing ----------------------------------------------------------------------------------


def _picklist_yaml(entry: PicklistEntry) -> Any:
    if entry.label == entry.value and entry.active and not entry.default:
        return entry.value
    item: dict[str, Any] = {"value": entry.value}
    if entry.label != entry.value:
        item["label"] = entry.label
    if not entry.active:
        item["active"] = False
    if entry.default:
        item["default"] = True
    return item


def field_yaml(f: FieldInfo) -> dict[str, Any]:
    """One field's attributes, each left out when it equals what the format implies."""
    out: dict[str, Any] = {"type": f.type}
    if f.label != default_label(f.name):
        out["label"] = f.label
    if f.type in LENGTH_TYPES and f.length != DEFAULT_LENGTHS[f.type]:
        out["length"] = f.length
    if f.type in NUMBER_TYPES | INTEGER_TYPES and f.precision != 18:
        out["precision"] = f.precision
    if f.type in NUMBER_TYPES and f.scale != (2 if f.type in ("currency", "percent") else 0):
        out["scale"] = f.scale
    if not f.nillable:
        out["required"] = True
    for key, value in (("createable", f.createable), ("updateable", f.updateable)):
        if not value:
            out[key] = False
    if f.default is not None:
        out["default"] = f.default
    if f.defaulted_on_create != (f.default is not None or f.type == "boolean"):
        out["defaulted_on_create"] = f.defaulted_on_create
    if f.external_id:
        out["external_id"] = True
    if f.id_lookup != f.external_id:
        out["id_lookup"] = f.id_lookup
    for key, flag in (("unique", f.unique), ("case_sensitive", f.case_sensitive), ("calculated", f.calculated),
                      ("auto_number", f.auto_number)):
        if flag:
            out[key] = True
    if f.reference_to:
        out["to"] = f.reference_to[0] if len(f.reference_to) == 1 else list(f.reference_to)
    if f.type == "reference" and f.relationship_name != default_relationship_name(f.name):
        out["relationship_name"] = f.relationship_name
    if f.child_relationship_name:
        out["child_relationship_name"] = f.child_relationship_name
    if f.picklist:
        out["values"] = [_picklist_yaml(p) for p in f.picklist]
    if f.restricted:
        out["restricted"] = True
    return out


def object_yaml(obj: ObjectInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if obj.label != default_label(obj.name):
        out["label"] = obj.label
    if obj.label_plural != obj.label + "s":
        out["label_plural"] = obj.label_plural
    if obj.key_prefix:
        out["key_prefix"] = obj.key_prefix
    for key, value in (("createable", obj.createable), ("updateable", obj.updateable),
                       ("deletable", obj.deletable), ("queryable", obj.queryable)):
        if not value:
            out[key] = False
    if obj.record_types:
        out["record_types"] = {rt.developer_name: rt.label if rt.active else {"label": rt.label, "active": False}
                               for rt in sorted(obj.record_types, key=lambda rt: rt.developer_name)}
    out["fields"] = {name: field_yaml(obj.fields[name]) for name in sorted(obj.fields)}
    return out


HEADER = """\
# Org schema snapshot written by `migrator describe`: {what}.
# Check plans against it with `migrator check PLAN --schema FILE`, or rehearse with
# `migrator serve --schema FILE`. Sorted and without timestamps, so a diff shows what changed.
"""


def snapshot_text(schema: TargetSchema, names: Iterable[str] | None = None) -> str:
    """The snapshot YAML of `names` (default: every object of `schema`), sorted and stable."""
    chosen = sorted({(schema.get(n) or _missing(n)).name for n in names} if names is not None else schema.objects)
    document = {"complete": True, "objects": {name: object_yaml(schema.objects[name]) for name in chosen}}
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=None, allow_unicode=True, width=110)
    what = ", ".join(chosen) if len(chosen) <= 8 else f"{len(chosen)} objects"
    return HEADER.format(what=what) + body


def _missing(name: str) -> ObjectInfo:
    raise SchemaFileError(f"object {name} is not in the schema")
