"""Which columns of a step go out in which pass: pure derivations from its layout and the load order.

Pass 1 sends every column except deferred lookups. Pass 2 sends the key plus the deferred
lookups, and the self-references of rows whose hierarchy link was deferred (data cycles, chains
too deep); blank cells leave the other fields unchanged. Pass 2 upserts on the step's external id
when it sends one, otherwise it updates by Id.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrator.compile.graph import LoadOrder
from migrator.compile.lockparts import LockColumn
from migrator.compile.manifest import LookupEntry
from migrator.compile.transform import LookupColumn, StepLayout


@dataclass(frozen=True)
class StepShape:
    layout: StepLayout
    order: LoadOrder

    @property
    def name(self) -> str:
        return self.layout.spec.name

    @property
    def hierarchical(self) -> bool:
        return self.name in self.order.hierarchical

    @property
    def self_columns(self) -> list[LookupColumn]:
        lookups = self.order.hierarchical.get(self.name, ())
        return [c for lookup in lookups for c in self.layout.lookup_columns if c.lookup is lookup]

    @property
    def self_headers(self) -> list[str]:
        return [c.header for c in self.self_columns]

    @property
    def deferred_headers(self) -> list[str]:
        return [c.header for c in self.layout.lookup_columns if self.order.is_deferred(self.name, c.lookup)]

    @property
    def pass1_columns(self) -> list[str]:
        deferred = set(self.deferred_headers)
        return [c for c in self.layout.columns if c not in deferred]

    @property
    def pass2_columns(self) -> list[str]:
        key = self.layout.key_header
        return [key, *self.deferred_headers, *self.self_headers] if key else []

    @property
    def pass2_operation(self) -> tuple[str, str | None]:
        spec = self.layout.spec
        if spec.external_id and spec.field_spec(spec.external_id):
            return "upsert", spec.external_id
        return "update", None

    def parent_checks(self, *, deferred: bool) -> list[LookupColumn]:
        """Lookup columns whose parents are checked against the plan's data (not self, not existing)."""
        self_lookups = self.order.hierarchical.get(self.name, ())
        return [c for c in self.layout.lookup_columns
                if not c.lookup.existing and c.lookup not in self_lookups
                and self.order.is_deferred(self.name, c.lookup) == deferred]

    def lookup_entries(self) -> tuple[LookupEntry, ...]:
        entries = []
        for lookup in self.layout.spec.lookups:
            columns = [c for c in self.layout.lookup_columns if c.lookup is lookup]
            if lookup.existing:
                mode = "existing"
            elif self.order.is_deferred(self.name, lookup):
                mode = "pass2"
            elif lookup in self.order.hierarchical.get(self.name, ()):
                mode = "levels"
            else:
                mode = "pass1"
            entries.append(LookupEntry(field=lookup.field, headers=tuple(c.header for c in columns),
                                       targets=lookup.targets, key=columns[0].key if columns else "", mode=mode))
        return tuple(entries)

    @property
    def lock_column(self) -> LockColumn | None:
        """The lookup pass-1 rows are grouped by (lockparts.py): the first one sent in pass 1, lookups to
        other objects before the step's own hierarchy (a contact's account before its manager)."""
        sent = set(self.pass1_columns)
        self_lookups = self.order.hierarchical.get(self.name, ())
        lookups = [lk for lk in self.layout.spec.lookups
                   if any(c.lookup is lk and c.header in sent for c in self.layout.lookup_columns)]
        ordered = [lk for lk in lookups if lk not in self_lookups] + [lk for lk in lookups if lk in self_lookups]
        if not ordered:
            return None
        columns = [c for c in self.layout.lookup_columns if c.lookup is ordered[0] and c.header in sent]
        return LockColumn(field=ordered[0].field, headers=tuple(c.header for c in columns),
                          targets=tuple(c.target for c in columns), key=columns[0].key)
