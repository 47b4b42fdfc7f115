"""The target's schema as data: what check, prediction and changed-only loads know about each object.

Filled from a live describe (`check/describe.py`) or from org-schema YAML files and snapshots
(`check/snapshot.py`); everything else in check/ reads only these frozen dataclasses, so a check
gives the same answer whether the org was asked or a snapshot committed in git was read.
Names are looked up case-insensitively, as Salesforce resolves CSV headers and SOQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TEXT_TYPES = frozenset({"string", "textarea", "picklist", "multipicklist", "email", "phone", "url", "combobox",
                        "encryptedstring"})
NUMBER_TYPES = frozenset({"double", "currency", "percent"})
INTEGER_TYPES = frozenset({"int", "long"})
ID_TYPES = frozenset({"id", "reference"})


@dataclass(frozen=True)
class PicklistEntry:
    value: str
    label: str
    active: bool = True
    default: bool = False


@dataclass(frozen=True)
class FieldInfo:
    """One field with the describe attributes a load depends on."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    case_sensitive: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship_name: str | None = None
    picklist: tuple[PicklistEntry, ...] = ()
    restricted: bool = False
    default: str | bool | int | float | None = None
    calculated: bool = False
    auto_number: bool = False

    @property
    def required_on_create(self) -> bool:
        """Salesforce's rule: not nillable, createable, and not defaulted on create."""
        return not self.nillable and self.createable and not self.defaulted_on_create

    @property
    def polymorphic(self) -> bool:
        return len(self.reference_to) > 1

    @property
    def active_values(self) -> tuple[str, ...]:
        return tuple(p.value for p in self.picklist if p.active)


@dataclass(frozen=True)
class RecordTypeInfo:
    """A record type by DeveloperName; `id` is known from a live describe, not from a snapshot."""

    developer_name: str
    label: str
    active: bool = True
    id: str | None = None


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    fields: Mapping[str, FieldInfo]
    label: str = ""
    label_plural: str = ""
    key_prefix: str | None = None
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True
    record_types: tuple[RecordTypeInfo, ...] = ()
    _lower: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lower.update({name.lower(): name for name in self.fields})

    def field(self, name: str) -> FieldInfo | None:
        key = self._lower.get(name.lower())
        return self.fields[key] if key is not None else None

    def relationship(self, relationship_name: str) -> FieldInfo | None:
        """The lookup field whose relationship name is `relationship_name` (case-insensitive)."""
        wanted = relationship_name.lower()
        return next((f for f in self.fields.values()
                     if f.relationship_name and f.relationship_name.lower() == wanted), None)

    def record_type(self, developer_name: str) -> RecordTypeInfo | None:
        return next((rt for rt in self.record_types if rt.developer_name.lower() == developer_name.lower()), None)


@dataclass(frozen=True)
class TargetSchema:
    """The objects known about one target. `source` says where it came from (for messages)."""

    objects: Mapping[str, ObjectInfo]
    source: str = ""
    _lower: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lower.update({name.lower(): name for name in self.objects})

    def get(self, name: str) -> ObjectInfo | None:
        key = self._lower.get(name.lower())
        return self.objects[key] if key is not None else None

    def names(self) -> list[str]:
        return sorted(self.objects)
