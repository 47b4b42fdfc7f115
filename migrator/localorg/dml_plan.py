"""What a DML job means before any row is read: its object, operation, key, and CSV header columns.

Two checks live here. `check_job_request` is what Salesforce refuses when a job is created (unknown
object, missing or unusable external id field), raised as JobRequestError (HTTP 400 in Bulk 2.0,
an InvalidJob error in Bulk 1.0). `plan_columns` maps the uploaded header row onto fields and
relationship lookups (``Account.Legacy_Id__c``, ``Parent__r.Code__c``, ``Account:What.Legacy_Id__c``);
a header Salesforce would refuse fails the whole job with HeaderError, whose text is the job's
``errorMessage`` (``InvalidBatch : Field name not found : X``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .orgschema import FieldDef, ObjectDef, OrgSchema

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
_RELATIONSHIP_HEADER = re.compile(r"(?:([A-Za-z][A-Za-z0-9_]*):)?([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z][A-Za-z0-9_]*)")


class JobRequestError(Exception):
    """A job Salesforce refuses at creation time; `code` is the Bulk 2.0 errorCode."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class HeaderError(Exception):
    """The CSV header cannot be used; `message` becomes the job's errorMessage."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldColumn:
    """A CSV column that sets `field` directly."""

    index: int
    field: FieldDef


@dataclass(frozen=True)
class RelationshipColumn:
    """A CSV column naming a parent by one of its keys: `field` is the lookup, `key` the parent's field."""

    index: int
    header: str
    field: FieldDef
    target: ObjectDef
    key: FieldDef


@dataclass(frozen=True)
class DmlPlan:
    object: ObjectDef
    operation: str
    headers: tuple[str, ...]
    upsert_key: FieldDef | None = None
    id_column: int | None = None
    fields: tuple[FieldColumn, ...] = ()
    relationships: tuple[RelationshipColumn, ...] = ()
    lookup_fields: tuple[FieldDef, ...] = field(default=())  # every lookup set by some column

    @property
    def key_column(self) -> int | None:
        """The column holding the upsert key (the Id column when the key is Id)."""
        if self.upsert_key is None or self.upsert_key.name == "Id":
            return self.id_column
        return next((c.index for c in self.fields if c.field.name == self.upsert_key.name), None)


def check_job_request(schema: OrgSchema, object_name: str, operation: str,
                      external_id_field: str | None) -> tuple[ObjectDef, FieldDef | None]:
    """The object and upsert key of a new ingest job, or JobRequestError as Salesforce answers."""
    if operation not in OPERATIONS:
        raise JobRequestError("INVALIDJOB", f"Invalid operation: {operation}. Valid operations are "
                                            f"{', '.join(OPERATIONS)}")
    obj = schema.get(object_name) if object_name else None
    if obj is None:
        raise JobRequestError("INVALIDJOB", f"Unable to find object: {object_name}")
    allowed = {"insert": obj.createable, "update": obj.updateable, "upsert": obj.createable and obj.updateable,
               "delete": obj.deletable, "hardDelete": obj.deletable}[operation]
    if not allowed:
        raise JobRequestError("INVALIDJOB", f"The {operation} operation is not allowed on {obj.name}")
    if operation != "upsert":
        return obj, None
    if not external_id_field:
        raise JobRequestError("INVALIDJOB", f"External ID was blank for {obj.name}. An External ID must be "
                                            f"specified for upsert.")
    key = obj.field(external_id_field)
    if key is None or not (key.name == "Id" or key.external_id or key.id_lookup):
        raise JobRequestError("INVALIDJOB", f"Field name provided, {external_id_field} does not match an External "
                                            f"ID, Salesforce Id, or indexed field for {obj.name}")
    return obj, key


def plan_columns(schema: OrgSchema, obj: ObjectDef, operation: str, headers: list[str],
                 upsert_key: FieldDef | None = None) -> DmlPlan:
    """Map an uploaded header row onto the object; HeaderError for a header Salesforce refuses."""
    seen: dict[str, str] = {}
    id_column: int | None = None
    fields: list[FieldColumn] = []
    relationships: list[RelationshipColumn] = []
    deleting = operation in ("delete", "hardDelete")
    for index, header in enumerate(headers):
        if header.lower() in seen:
            raise HeaderError(f"InvalidBatch : Duplicate field name: {header}")
        seen[header.lower()] = header
        if header.lower() == "id":
            id_column = index
            continue
        if deleting:  # a delete reads only Id; other columns are echoed in the results
            continue
        if "." in header or ":" in header:
            relationships.append(_relationship_column(schema, obj, index, header))
            continue
        f = obj.field(header)
        if f is None:
            raise HeaderError(f"InvalidBatch : Field name not found : {header}")
        fields.append(FieldColumn(index, f))
    lookups = {c.field.name: c.field for c in relationships}
    lookups.update({c.field.name: c.field for c in fields if c.field.type == "reference"})
    return DmlPlan(obj, operation, tuple(headers), upsert_key, id_column, tuple(fields), tuple(relationships),
                   tuple(lookups.values()))


def _relationship_column(schema: OrgSchema, obj: ObjectDef, index: int, header: str) -> RelationshipColumn:
    match = _RELATIONSHIP_HEADER.fullmatch(header)
    lookup = obj.relationship(match[2]) if match else None
    if match is None or lookup is None or lookup.type != "reference":
        raise HeaderError(f"InvalidBatch : Field name not found : {header}")
    type_name, key_name = match[1], match[3]
    if lookup.polymorphic:
        target = schema.get(type_name) if type_name else None
        if target is None or target.name not in lookup.reference_to:
            hint = f"{lookup.reference_to[0]}:{match[2]}.{key_name}"
            raise HeaderError(f"InvalidBatch : Field name not found : {header} ({lookup.name} is polymorphic: "
                              f"name one of {', '.join(lookup.reference_to)} first, e.g. {hint})")
    else:
        target = schema.get(lookup.reference_to[0])
        if type_name or target is None:
            raise HeaderError(f"InvalidBatch : Field name not found : {header}")
    key = target.field(key_name)
    if key is None:
        raise HeaderError(f"InvalidBatch : Field name not found : {header}")
    if not (key.name == "Id" or key.external_id or key.id_lookup):
        raise HeaderError(f"InvalidBatch : Field name provided, {key.name} does not match an External ID, "
                          f"Salesforce Id, or indexed field for {target.name}")
    return RelationshipColumn(index, header, lookup, target, key)
