"""The local org's metadata: which objects exist, their fields, types, lookups and key prefixes.

Loaded from the bundled ``standard_objects.yaml`` and ``migrator_objects.yaml`` (the objects migrator
itself keeps in an org: its migration history) plus any ``--schema FILE`` the user passes (same
format; a user file may add objects or add/override fields of existing ones). Everything in the
local org (describe, DML validation, SOQL) reads metadata from here, never from hard-coded lists.

Storage convention shared with the store, the DML engine and the SOQL compiler:
- one SQLite table per object, named exactly as the object's API name (always quoted);
- one column per field, named exactly as the field's API name; ``Id`` is the TEXT primary key
  (18 characters) and every table has ``IsDeleted`` INTEGER 0/1 (queryAll sees deleted rows);
- values: text-like types (string, textarea, picklist, multipicklist, email, phone, url, id,
  reference, combobox, encryptedstring) as TEXT; boolean as INTEGER 0/1; int as INTEGER;
  double, currency, percent as REAL; date as TEXT ``YYYY-MM-DD``; datetime as TEXT
  ``YYYY-MM-DDTHH:MM:SS.000Z`` in UTC (so text order is time order); null as NULL;
- a polymorphic reference stores only the Id; its type follows from the Id's 3-character key prefix;
- text columns other than ids and references are declared ``COLLATE NOCASE`` (Salesforce compares
  text and external ids case-insensitively; ids stay binary), and external id, unique and idLookup
  fields are indexed; internal tables start with ``_``.

Field types in the YAML are Salesforce's describe types; the friendlier aliases ``text``, ``number``,
``integer``, ``checkbox``, ``lookup`` and ``longtextarea`` are accepted for user files. An object
without ``key_prefix`` gets the next free generated prefix (``a01``, ``a02``, ...). An object may
list its record types by DeveloperName (``record_types: {Enterprise: Enterprise Account}``); the
org creates them as RecordType records when it starts.

A document with ``complete: true`` (what ``migrator describe`` writes: a snapshot of a real org)
describes each of its objects in full, so an object there replaces the bundled one instead of
extending it. Such a document may name objects this org does not have: an object a lookup points
at but the document does not describe becomes a placeholder (system fields only), so the lookup
stays as in the real org; compound ``address`` and ``location`` fields are left out (their
component fields are there), and the read-only compound ``Name`` of Contact, Lead and User stays
computed rather than stored.

This module imports nothing from the rest of migrator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

TEXT_TYPES = frozenset({"id", "string", "textarea", "picklist", "multipicklist", "email", "phone", "url",
                        "reference", "combobox", "encryptedstring", "time", "anyType"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
INTEGER_TYPES = frozenset({"int", "long"})
FIELD_TYPES = TEXT_TYPES | NUMBER_TYPES | INTEGER_TYPES | frozenset({"boolean", "date", "datetime", "base64"})
# Compound fields a snapshot of a real org may list: read-only views of their component fields.
COMPOUND_TYPES = frozenset({"address", "location"})
TYPE_ALIASES = {"text": "string", "number": "double", "integer": "int", "checkbox": "boolean",
                "lookup": "reference", "longtextarea": "textarea"}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Fields every object has; they are added when an object is loaded, not declared in the YAML.
SYSTEM_FIELDS: tuple[dict[str, Any], ...] = (
    {"name": "Id", "type": "id", "length": 18, "createable": False, "updateable": False,
     "nillable": False, "id_lookup": True, "defaulted_on_create": True, "label": "Record ID"},
    {"name": "IsDeleted", "type": "boolean", "createable": False, "updateable": False, "nillable": False,
     "defaulted_on_create": True, "label": "Deleted"},
    {"name": "CreatedDate", "type": "datetime", "createable": False, "updateable": False,
     "nillable": False, "defaulted_on_create": True, "label": "Created Date"},
    {"name": "CreatedById", "type": "reference", "reference_to": ["User"], "relationship_name": "CreatedBy",
     "createable": False, "updateable": False, "nillable": False, "defaulted_on_create": True,
     "label": "Created By ID"},
    {"name": "LastModifiedDate", "type": "datetime", "createable": False, "updateable": False,
     "nillable": False, "defaulted_on_create": True, "label": "Last Modified Date"},
    {"name": "LastModifiedById", "type": "reference", "reference_to": ["User"],
     "relationship_name": "LastModifiedBy", "createable": False, "updateable": False, "nillable": False,
     "defaulted_on_create": True, "label": "Last Modified By ID"},
    {"name": "SystemModstamp", "type": "datetime", "createable": False, "updateable": False,
     "nillable": False, "defaulted_on_create": True, "label": "System Modstamp"},
)

RECORD_TYPE_ID = {"type": "reference", "to": "RecordType", "relationship_name": "RecordType",
                  "label": "Record Type ID"}


class SchemaError(Exception):
    """The org schema YAML is invalid. The message names the file, object and field."""


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    active: bool = True
    default: bool = False


@dataclass(frozen=True)
class FieldDef:
    """One field, with the attributes Salesforce's describe reports and DML enforces."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist_values: tuple[PicklistValue, ...] = ()
    restricted_picklist: bool = False
    default_value: Any = None
    defaulted_on_create: bool = False
    calculated: bool = False
    auto_number: bool = False
    custom: bool = False
    child_relationship_name: str | None = None  # e.g. "Contacts" for Contact.AccountId

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    @property
    def required_on_create(self) -> bool:
        """Salesforce's rule: not nillable, createable, and not defaulted on create."""
        return not self.nillable and self.createable and not self.defaulted_on_create


@dataclass(frozen=True)
class RecordTypeDef:
    """A record type the org creates at start (a RecordType record), by DeveloperName."""

    developer_name: str
    label: str
    active: bool = True


@dataclass(frozen=True)
class ObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: Mapping[str, FieldDef]  # keyed by API name, in declaration order
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    record_types: tuple[RecordTypeDef, ...] = ()
    _lower: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def field(self, name: str) -> FieldDef | None:
        """Case-insensitive field lookup, as Salesforce resolves CSV headers and SOQL names."""
        canonical = self._lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def relationship(self, relationship_name: str) -> FieldDef | None:
        """The reference field whose relationship name is `relationship_name` (case-insensitive)."""
        wanted = relationship_name.lower()
        for f in self.fields.values():
            if f.relationship_name and f.relationship_name.lower() == wanted:
                return f
        return None


@dataclass(frozen=True)
class OrgSchema:
    objects: Mapping[str, ObjectDef]
    _lower: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _prefixes: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Lookups run per CSV header and per Id; index them once (the dataclass stays immutable).
        self._lower.update({key.lower(): key for key in self.objects})
        self._prefixes.update({obj.key_prefix: key for key, obj in self.objects.items()})

    def get(self, name: str) -> ObjectDef | None:
        """Case-insensitive object lookup."""
        key = self._lower.get(name.lower())
        return self.objects[key] if key is not None else None

    def by_key_prefix(self, prefix: str) -> ObjectDef | None:
        key = self._prefixes.get(prefix)
        return self.objects[key] if key is not None else None

    def child_relationships(self, parent: str) -> list[tuple[ObjectDef, FieldDef]]:
        """(child object, lookup field) pairs whose lookup can point at `parent`."""
        return [(obj, f) for obj in self.objects.values() for f in obj.fields.values()
                if parent in f.reference_to]

    def child_relationship(self, parent: str, name: str) -> tuple[ObjectDef, FieldDef] | None:
        """The (child object, lookup field) a parent's child relationship name (``Contacts``) stands for."""
        wanted = name.lower()
        return next(((child, f) for child, f in self.child_relationships(parent)
                     if child_relationship_name(child, f).lower() == wanted), None)


def child_relationship_name(child: ObjectDef, lookup: FieldDef) -> str:
    """The name a parent calls its children by (describe, subqueries, composite/tree): the schema's, else
    Salesforce's default (``Projects__r`` for a custom object, the plural label for a standard one)."""
    if lookup.child_relationship_name:
        return lookup.child_relationship_name
    return child.name[:-3] + "s__r" if child.custom else child.label_plural.replace(" ", "")


def _picklist(values: Iterable[Any]) -> tuple[PicklistValue, ...]:
    result = []
    for v in values:
        if isinstance(v, Mapping):
            result.append(PicklistValue(value=str(v["value"]), label=str(v.get("label", v["value"])),
                                        active=bool(v.get("active", True)),
                                        default=bool(v.get("default", False))))
        else:
            result.append(PicklistValue(value=str(v), label=str(v)))
    return tuple(result)


def _relationship_name(name: str) -> str:
    if name.endswith("__c"):
        return name[:-3] + "__r"
    if name.endswith("Id") and len(name) > 2:
        return name[:-2]
    return name


def _field_from_yaml(name: str, spec: Mapping[str, Any], where: str) -> FieldDef:
    if not isinstance(spec, Mapping):
        raise SchemaError(f"{where}: field {name}: expected a mapping of attributes, got {spec!r}")
    kind = str(spec.get("type", "string"))
    kind = TYPE_ALIASES.get(kind.lower(), kind)
    kind = {k.lower(): k for k in FIELD_TYPES}.get(kind.lower(), kind)
    if kind not in FIELD_TYPES:
        raise SchemaError(f"{where}: field {name}: unknown type {kind!r}")
    reference_to = spec.get("reference_to", spec.get("to", ()))
    if isinstance(reference_to, str):
        reference_to = [reference_to]
    if kind == "reference" and not reference_to:
        raise SchemaError(f"{where}: field {name}: a reference needs `to`")
    required = bool(spec.get("required", False))
    picklist = _picklist(spec.get("values", ()))
    default = spec.get("default", next((p.value for p in picklist if p.default), None))
    defaults = {"string": 255, "textarea": 32768, "email": 80, "phone": 40, "url": 255, "picklist": 255,
                "multipicklist": 4099, "id": 18, "reference": 18, "combobox": 255, "encryptedstring": 175}
    return FieldDef(
        name=name,
        type=kind,
        label=str(spec.get("label", name.removesuffix("__c").replace("_", " "))),
        length=int(spec.get("length", defaults.get(kind, 0))),
        precision=int(spec.get("precision", 18 if kind in NUMBER_TYPES or kind in INTEGER_TYPES else 0)),
        scale=int(spec.get("scale", 2 if kind in ("currency", "percent") else 0)),
        nillable=not required and bool(spec.get("nillable", True)),
        createable=bool(spec.get("createable", True)),
        updateable=bool(spec.get("updateable", True)),
        external_id=bool(spec.get("external_id", False)),
        id_lookup=bool(spec.get("id_lookup", spec.get("external_id", False))),
        unique=bool(spec.get("unique", False)),
        case_sensitive=bool(spec.get("case_sensitive", False)),
        reference_to=tuple(reference_to),
        relationship_name=spec.get("relationship_name")
        or (_relationship_name(name) if kind == "reference" else None),
        picklist_values=picklist,
        restricted_picklist=bool(spec.get("restricted", False)),
        default_value=default,
        defaulted_on_create=bool(spec.get("defaulted_on_create", default is not None or kind == "boolean")),
        calculated=bool(spec.get("calculated", False)),
        auto_number=bool(spec.get("auto_number", False)),
        custom=name.endswith("__c"),
        child_relationship_name=spec.get("child_relationship_name"),
    )


def _record_types(spec: Any, where: str) -> tuple[RecordTypeDef, ...]:
    """``{DeveloperName: label}`` or ``{DeveloperName: {label, active}}``, in DeveloperName order."""
    if spec is None:
        return ()
    if not isinstance(spec, Mapping):
        raise SchemaError(f"{where}: record_types: expected a mapping of DeveloperName to label, got {spec!r}")
    found = []
    for developer_name, value in spec.items():
        detail = value if isinstance(value, Mapping) else {"label": value}
        label = detail.get("label") or str(developer_name).replace("_", " ")
        found.append(RecordTypeDef(str(developer_name), str(label), bool(detail.get("active", True))))
    return tuple(sorted(found, key=lambda rt: rt.developer_name))


def _snapshot_field(name: str, spec: Any, has_person_name: bool) -> bool:
    """Whether a field of a complete document is one this org keeps (see the module docstring)."""
    kind = str(spec.get("type", "")) if isinstance(spec, Mapping) else ""
    if kind.lower() in COMPOUND_TYPES:
        return False
    return not (name == "Name" and has_person_name and isinstance(spec, Mapping)
                and spec.get("createable") is False)


def _references(document: Mapping[str, Any]) -> list[str]:
    """Every object a document's lookups point at, in order of appearance."""
    found: list[str] = []
    for spec in (document.get("objects") or {}).values():
        fields = (spec.get("fields") or {}) if isinstance(spec, Mapping) else {}
        for field_spec in fields.values():
            if isinstance(field_spec, Mapping):
                targets = field_spec.get("reference_to", field_spec.get("to", ()))
                found += [targets] if isinstance(targets, str) else [str(t) for t in targets]
    return list(dict.fromkeys(found))


def _object_from_yaml(name: str, spec: Mapping[str, Any], where: str,
                      base: ObjectDef | None = None, generated_prefix: str = "", *,
                      complete: bool = False) -> ObjectDef:
    if not isinstance(spec, Mapping):
        raise SchemaError(f"{where}: object {name}: expected a mapping, got {spec!r}")
    fields: dict[str, FieldDef] = dict(base.fields) if base and not complete else {}
    if base is None or complete:
        for system in SYSTEM_FIELDS:
            sys_spec = {k: v for k, v in system.items() if k != "name"}
            sys_spec["required"] = not sys_spec.pop("nillable", True)
            fd = _field_from_yaml(system["name"], sys_spec, where)
            fields[fd.name] = replace(fd, nillable=system.get("nillable", True), custom=False)
    declared = spec.get("fields") or {}
    person = "LastName" in declared
    for field_name, field_spec in declared.items():
        if complete and not _snapshot_field(str(field_name), field_spec, person):
            continue
        fd = _field_from_yaml(str(field_name), field_spec or {}, f"{where}: object {name}")
        fields[fd.name] = fd
    record_types = _record_types(spec["record_types"], f"{where}: object {name}") if "record_types" in spec \
        else (base.record_types if base else ())
    if record_types and "RecordTypeId" not in fields:  # as in Salesforce, an object with record types has the lookup
        fields["RecordTypeId"] = _field_from_yaml("RecordTypeId", RECORD_TYPE_ID, where)
    key_prefix = str(spec.get("key_prefix", base.key_prefix if base else generated_prefix))
    if len(key_prefix) != 3:
        raise SchemaError(f"{where}: object {name}: key_prefix must be 3 characters, got {key_prefix!r}")
    label = str(spec.get("label", base.label if base else name.removesuffix("__c").replace("_", " ")))
    return ObjectDef(
        name=name,
        label=label,
        label_plural=str(spec.get("label_plural", base.label_plural if base else label + "s")),
        key_prefix=key_prefix,
        fields=fields,
        custom=name.endswith("__c"),
        createable=bool(spec.get("createable", base.createable if base else True)),
        updateable=bool(spec.get("updateable", base.updateable if base else True)),
        deletable=bool(spec.get("deletable", base.deletable if base else True)),
        queryable=bool(spec.get("queryable", base.queryable if base else True)),
        record_types=record_types,
        _lower={k.lower(): k for k in fields},
    )


def merge_schema(schema: OrgSchema, document: Mapping[str, Any], where: str) -> OrgSchema:
    """Add the objects and fields of one YAML document to `schema` (user files extend the bundle)."""
    if not isinstance(document, Mapping):
        raise SchemaError(f"{where}: expected a mapping with an `objects` key")
    objects = dict(schema.objects)
    lower = {key.lower(): key for key in objects}
    complete = bool(document.get("complete", False))
    for name, spec in (document.get("objects") or {}).items():
        base = objects.get(lower.get(str(name).lower(), ""))
        used = {obj.key_prefix for obj in objects.values() if obj is not base}
        obj = _object_from_yaml(base.name if base else str(name), spec or {}, where, base,
                                generated_prefix=_next_custom_prefix(used), complete=complete)
        objects[obj.name] = obj
        lower[obj.name.lower()] = obj.name
    if complete:  # a snapshot's lookups may point at objects it does not describe: keep them as placeholders
        for target in _references(document):
            if target.lower() not in lower:
                used = {obj.key_prefix for obj in objects.values()}
                stub = _object_from_yaml(target, {}, where, generated_prefix=_next_custom_prefix(used))
                objects[stub.name] = stub
                lower[stub.name.lower()] = stub.name
    merged = OrgSchema(objects=objects)
    _check_references(merged, where)
    return merged


def _next_custom_prefix(used: set[str]) -> str:
    """Salesforce numbers custom objects a01, a02, ... in base 62; take the first free one."""
    for n in range(1, 62 * 62):
        prefix = "a" + _BASE62[n // 62] + _BASE62[n % 62]
        if prefix not in used:
            return prefix
    raise SchemaError("no free custom object key prefix left")


def _check_references(schema: OrgSchema, where: str) -> None:
    prefixes: dict[str, str] = {}
    for obj in schema.objects.values():
        if obj.key_prefix in prefixes:
            raise SchemaError(f"{where}: object {obj.name}: key_prefix {obj.key_prefix} is already used by "
                              f"{prefixes[obj.key_prefix]}")
        prefixes[obj.key_prefix] = obj.name
        for f in obj.fields.values():
            for target in f.reference_to:
                if schema.get(target) is None:
                    raise SchemaError(f"{where}: object {obj.name}: field {f.name} refers to unknown "
                                      f"object {target}")


# Salesforce's standard objects, then the objects migrator keeps in an org (its migration history).
BUNDLED_SCHEMA_FILES = ("standard_objects.yaml", "migrator_objects.yaml")


def load_schema(extra_files: Iterable[Path | str] = ()) -> OrgSchema:
    """The bundled objects, extended by each of `extra_files` in turn."""
    schema = OrgSchema(objects={})
    for name in BUNDLED_SCHEMA_FILES:
        bundled = resources.files("migrator.localorg").joinpath(name).read_text("utf-8")
        schema = merge_schema(schema, yaml.safe_load(bundled) or {}, name)
    for path in extra_files:
        text = Path(path).read_text("utf-8")
        schema = merge_schema(schema, yaml.safe_load(text) or {}, str(path))
    return schema
