"""A live describe as a `TargetSchema`: Salesforce's describe JSON read into check's model.

`LiveDescribe` asks the org once per object and keeps the answer for the rest of the command (a
check, then a run, never describes an object twice); objects the org does not have are
remembered as missing, and the org's object names come from one global describe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from migrator.check.schema import (
    INTEGER_TYPES,
    NUMBER_TYPES,
    FieldInfo,
    ObjectInfo,
    PicklistEntry,
    RecordTypeInfo,
    TargetSchema,
)
from migrator.check.snapshot import COMPOUND_TYPES, LENGTH_TYPES
from migrator.client.rest import RestClient
from migrator.errors import NotFoundError

_STRING_FORMULA = re.compile(r'^"((?:[^"\\]|\\.)*)"$', re.S)
_NUMBER_FORMULA = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")


def _default(raw: Mapping[str, Any], kind: str) -> Any:
    """The field's default as a plain value: a checkbox's, a picklist's, or a literal default formula."""
    if kind == "boolean":
        value = raw.get("defaultValue")
        return True if value is True or str(value).lower() == "true" else None
    if kind in ("picklist", "multipicklist"):
        if raw.get("defaultValue") not in (None, ""):
            return str(raw["defaultValue"])
        chosen = [p["value"] for p in raw.get("picklistValues") or () if p.get("defaultValue")]
        return ";".join(chosen) if chosen else None
    formula = raw.get("defaultValueFormula")
    if not isinstance(formula, str):
        return None
    text = formula.strip()
    literal = _STRING_FORMULA.match(text)
    if literal:
        return re.sub(r"\\(.)", r"\1", literal.group(1))
    if _NUMBER_FORMULA.match(text):
        return float(text) if "." in text else int(text)
    return None  # a real formula (TODAY(), $User.Id, ...): the org computes it


def field_from_describe(raw: Mapping[str, Any], child_names: Mapping[str, str] | None = None) -> FieldInfo:
    kind = str(raw.get("type", "string"))
    precision = raw.get("digits") if kind in INTEGER_TYPES else raw.get("precision")
    default = _default(raw, kind)
    return FieldInfo(
        name=str(raw["name"]), type=kind, label=str(raw.get("label") or raw["name"]),
        length=int(raw.get("length") or 0) if kind in LENGTH_TYPES else 0,
        precision=int(precision or 0) if kind in NUMBER_TYPES | INTEGER_TYPES else 0,
        scale=int(raw.get("scale") or 0) if kind in NUMBER_TYPES else 0,
        nillable=bool(raw.get("nillable", True)), createable=bool(raw.get("createable", False)),
        updateable=bool(raw.get("updateable", False)), defaulted_on_create=bool(raw.get("defaultedOnCreate")),
        external_id=bool(raw.get("externalId")), id_lookup=bool(raw.get("idLookup")),
        unique=bool(raw.get("unique")), case_sensitive=bool(raw.get("caseSensitive")),
        reference_to=tuple(raw.get("referenceTo") or ()), relationship_name=raw.get("relationshipName"),
        child_relationship_name=(child_names or {}).get(str(raw["name"])),
        picklist=tuple(PicklistEntry(str(p["value"]), str(p.get("label") or p["value"]), bool(p.get("active", True)),
                                     False)
                       for p in raw.get("picklistValues") or ()),
        restricted=bool(raw.get("restrictedPicklist")), default=default,
        calculated=bool(raw.get("calculated")), auto_number=bool(raw.get("autoNumber")),
    )


def object_from_describe(raw: Mapping[str, Any], child_names: Mapping[str, str] | None = None) -> ObjectInfo:
    """`child_names` maps this object's lookup fields to the child relationship name their parent
    gives them (read from the parents' describes, when the snapshot has them)."""
    fields = {f.name: f for f in (field_from_describe(r, child_names) for r in raw.get("fields") or ())
              if f.type not in COMPOUND_TYPES}
    record_types = tuple(sorted(
        (RecordTypeInfo(str(rt["developerName"]), str(rt.get("name") or rt["developerName"]),
                        bool(rt.get("active", True)), rt.get("recordTypeId"))
         for rt in raw.get("recordTypeInfos") or () if not rt.get("master")),
        key=lambda rt: rt.developer_name))
    return ObjectInfo(
        name=str(raw["name"]), fields=fields, label=str(raw.get("label") or raw["name"]),
        label_plural=str(raw.get("labelPlural") or raw.get("label") or raw["name"]),
        key_prefix=raw.get("keyPrefix"), custom=bool(raw.get("custom")),
        createable=bool(raw.get("createable", True)), updateable=bool(raw.get("updateable", True)),
        deletable=bool(raw.get("deletable", True)), queryable=bool(raw.get("queryable", True)),
        record_types=record_types,
    )


def child_relationship_names(describes: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """{child object: {lookup field: relationship name}} from the parents' childRelationships."""
    found: dict[str, dict[str, str]] = {}
    for raw in describes:
        for child in raw.get("childRelationships") or ():
            if child.get("relationshipName") and child.get("childSObject") and child.get("field"):
                found.setdefault(str(child["childSObject"]), {})[str(child["field"])] = str(child["relationshipName"])
    return found


class LiveDescribe:
    """The org's describe, fetched lazily and kept for the command."""

    def __init__(self, rest: RestClient, source: str = "the org"):
        self.rest, self.source = rest, source
        self._raw: dict[str, dict[str, Any] | None] = {}
        self._names: dict[str, str] | None = None

    def object_names(self) -> dict[str, str]:
        """Lower-case name -> name of every object the org has (one global describe)."""
        if self._names is None:
            found = self.rest.describe_global().get("sobjects") or ()
            self._names = {str(o["name"]).lower(): str(o["name"]) for o in found}
        return self._names

    def raw(self, name: str) -> dict[str, Any] | None:
        key = name.lower()
        if key not in self._raw:
            canonical = self.object_names().get(key)
            try:
                self._raw[key] = self.rest.describe(canonical) if canonical else None
            except NotFoundError:
                self._raw[key] = None
        return self._raw[key]

    def schema(self, names: Iterable[str]) -> TargetSchema:
        """The objects among `names` the org has, as a TargetSchema (absent ones are left out)."""
        described = [raw for raw in (self.raw(n) for n in dict.fromkeys(names)) if raw is not None]
        children = child_relationship_names(described)
        objects = {str(raw["name"]): object_from_describe(raw, children.get(str(raw["name"]))) for raw in described}
        return TargetSchema(objects=objects, source=self.source)
