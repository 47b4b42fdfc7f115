"""The plan, as typed frozen dataclasses.

The loader builds these from YAML after schema and semantic checks, with `defaults` already merged
in, so nothing downstream has to know about defaults or YAML. Every node keeps its `Location` so
that later stages (graph, transform, planner) can still point at the line that caused a problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from migrator.errors import Problem
from migrator.plan.fakespec import GenerateSpec, MaskSpec
from migrator.plan.location import NOWHERE, Location

Operation = Literal["insert", "update", "upsert", "delete", "hardDelete"]
FieldType = Literal["string", "number", "integer", "boolean", "date", "datetime", "picklist", "multipicklist", "email"]
Api = Literal["bulk2", "bulk1"]
Concurrency = Literal["parallel", "serial"]
NullPolicy = Literal["leave", "clear"]
MissingParentPolicy = Literal["send", "blank", "reject"]

OPERATIONS: tuple[str, ...] = ("insert", "update", "upsert", "delete", "hardDelete")
DELETE_OPERATIONS = frozenset({"delete", "hardDelete"})
FIELD_TYPES: tuple[str, ...] = (
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "picklist",
    "multipicklist",
    "email",
)

# Standard polymorphic lookups: their relationship headers need the `Type:` prefix.
POLYMORPHIC_FIELDS = frozenset({"WhoId", "WhatId", "FirstPublishLocationId"})

DEFAULT_PART_ROWS = 100_000
# Bulk API 2.0 accepts 150 MB after Salesforce's base64 encoding, about 100 MB raw; stay under it.
DEFAULT_PART_BYTES = 95 * 1024 * 1024
DEFAULT_CHUNK_ROWS = 100_000


FILE_KINDS: tuple[str, ...] = ("csv", "parquet", "jsonl", "json", "xlsx")
SOURCE_KINDS: tuple[str, ...] = (*FILE_KINDS, "sql")


@dataclass(frozen=True)
class SourceSpec:
    """A step's input: a file name or glob relative to the plan's sources directory (`pattern`),
    a SQL database (`url`: a `[databases]` name of migrator.toml or a URL without a password,
    with a `query` or a `table`), or, with `generate`, rows generated from the plan itself
    (`pattern` is then `generate:<step>`).

    `kind` is the reader (None: chosen from each file's extension); `columns` the columns to read
    (pushed down to Parquet and SQL; other columns are left out); `sheet` and `header_row` place an
    Excel table; `key` is the SQL column that names a row in messages (default: a table's primary
    key, else the row number).
    """

    pattern: str
    encoding: str = "utf-8"
    delimiter: str = ","
    location: Location = NOWHERE
    kind: str | None = None
    columns: tuple[str, ...] = ()
    sheet: str | None = None
    header_row: int = 1
    url: str | None = None
    query: str | None = None
    table: str | None = None
    key: str | None = None
    generate: GenerateSpec | None = None

    @property
    def is_sql(self) -> bool:
        return self.url is not None or self.kind == "sql"

    @property
    def label(self) -> str:
        """The source as messages name it: its file pattern, or `url: table` / `url: query`."""
        if not self.is_sql:
            return self.pattern
        return f"{self.url}: {self.table}" if self.table else f"{self.url}: query"


@dataclass(frozen=True)
class FieldSpec:
    """How one target field gets its value.

    Exactly one of `source` (a column), `value` (a constant) or `template` (sandboxed Jinja) is
    set. Conversion order: read -> trim -> map/default -> record type -> type conversion -> mask ->
    truncate/length -> the target's rules -> required -> null policy.
    """

    name: str
    source: str | None = None
    value: str | None = None
    template: str | None = None
    type: FieldType = "string"
    formats: tuple[str, ...] = ()
    timezone: str = "UTC"
    decimal: str = "."
    value_map: Mapping[str, str] | None = None
    map_ignore_case: bool = False
    default: str | None = None
    values: tuple[str, ...] = ()
    trim: bool = True
    truncate: int | None = None
    max_length: int | None = None
    required: bool = False
    null: NullPolicy = "leave"
    record_type: bool = False  # values are record type DeveloperNames, sent as the record type's Id
    file: bool = False  # values are paths of files (relative to Plan.files_dir) whose bytes the field takes
    user: bool = False  # values are usernames (or emails, see `Plan.users`), sent as the user's Id
    source_id: bool = False  # extract/copy: blank values are filled with the source record's Id
    location: Location = NOWHERE
    mask: MaskSpec | None = None  # applied after conversion: the value sent is a deterministic fake


@dataclass(frozen=True)
class LookupSpec:
    """A reference field filled from a parent's key, sent as a relationship header.

    `targets` are the parent objects; more than one (with `type_source`) makes a polymorphic lookup
    whose type is chosen per row. `key` is the parent field matched (default: the parent step's
    external id). `existing` means the parents are already in the org and not loaded by this plan.
    """

    field: str
    source: str
    targets: tuple[str, ...]
    key: str | None = None
    type_source: str | None = None
    type_map: Mapping[str, str] | None = None
    polymorphic: bool = False
    relationship: str | None = None
    defer: bool | None = None
    existing: bool = False
    missing: MissingParentPolicy = "send"
    location: Location = NOWHERE

    @property
    def relationship_name(self) -> str:
        """`AccountId` -> `Account`, `Parent_Account__c` -> `Parent_Account__r`, `WhoId` -> `Who`."""
        if self.relationship:
            return self.relationship
        if self.field.endswith("__c"):
            return self.field[:-3] + "__r"
        if self.field.endswith("Id") and len(self.field) > 2:
            return self.field[:-2]
        return self.field


@dataclass(frozen=True)
class ObjectSpec:
    """One entry of `objects`: load one source into one sObject with one operation."""

    object: str
    name: str
    source: SourceSpec
    operation: Operation
    fields: tuple[FieldSpec, ...] = ()
    lookups: tuple[LookupSpec, ...] = ()
    where: str | None = None
    external_id: str | None = None
    id_source: str | None = None
    api: Api = "bulk2"
    concurrency: Concurrency = "parallel"
    part_rows: int = DEFAULT_PART_ROWS
    part_bytes: int = DEFAULT_PART_BYTES
    skip_unchanged: bool = False  # send only rows that differ from the target's current values
    delete_where: str | None = None  # SOQL condition on the target: the records this step owns (cleanup)
    location: Location = NOWHERE

    @property
    def key_field(self) -> str | None:
        """The column Bulk API matches rows on: the external id, or Id for update/delete."""
        if self.operation in DELETE_OPERATIONS or self.operation == "update":
            return "Id"
        return self.external_id

    def field_spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


UserMatch = Literal["username", "email"]


@dataclass(frozen=True)
class UserMapping:
    """How `user:` fields find their user in the target: by Username or Email, through `map` (a name
    in the source org -> the name in the target, used when the target has it), else the name itself,
    else `default` (the owner of records whose user the target does not have)."""

    match: UserMatch = "username"
    map: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None
    location: Location = NOWHERE


@dataclass(frozen=True)
class Plan:
    """A loaded and checked plan file: its steps with every default merged in, each node located
    (file and line) so that later stages can point problems back at what the user wrote."""

    version: int
    name: str
    file: Path
    sources_dir: Path
    objects: tuple[ObjectSpec, ...]
    description: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    load_order: tuple[tuple[str, ...], ...] | None = None
    users: UserMapping = field(default_factory=UserMapping)
    checksum: str = ""
    location: Location = NOWHERE
    # where each load_order name is written ("" for the load_order key itself)
    load_order_locations: Mapping[str, Location] = field(default_factory=dict)
    roots: tuple[Path, ...] = ()  # the project's folders: sources are read only inside them
    files_dir: Path | None = None  # where binary fields' files are (`sources.files`; default sources_dir)
    warnings: tuple[Problem, ...] = ()  # what the checks found doubtful but not wrong

    def load_order_location(self, name: str = "") -> Location:
        return self.load_order_locations.get(name) or self.load_order_locations.get("") or self.location

    def step(self, name: str) -> ObjectSpec | None:
        return next((o for o in self.objects if o.name == name), None)

    def steps_for_object(self, object_name: str) -> tuple[ObjectSpec, ...]:
        return tuple(o for o in self.objects if o.object == object_name)
