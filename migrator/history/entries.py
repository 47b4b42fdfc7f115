"""The history of an org as data: one entry per application of a migration, plus the lock.

Entries are never removed: `repair` marks a failed one ``cleared`` and a vanished one ``deleted``,
and a changed checksum it accepts keeps the old value in `previous_checksum`, so the history stays
an audit trail of what ran where. Both stores (the org's records, a JSON file) hold exactly these
fields; `as_dict`/`from_dict` are the file form, `org_store` maps them to Salesforce fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from migrator.history.naming import identity, label

EntryKind = Literal["versioned", "repeatable", "baseline"]
Outcome = Literal["success", "failed", "cleared", "deleted"]
ACTIVE_OUTCOMES = frozenset({"success", "failed"})
BASELINE_DESCRIPTION = "<< baseline >>"


@dataclass(frozen=True)
class Counts:
    """Row counts of the run that applied a migration (its `run_results.json` totals)."""

    source: int = 0
    filtered: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def loaded(self) -> int:
        return self.created + self.updated

    @classmethod
    def from_totals(cls, totals: dict[str, Any]) -> Counts:
        return cls(source=int(totals.get("source_rows", 0)), filtered=int(totals.get("filtered", 0)),
                   rejected=int(totals.get("rejected", 0)), created=int(totals.get("created", 0)),
                   updated=int(totals.get("updated", 0)), failed=int(totals.get("failed", 0)),
                   skipped=int(totals.get("skipped", 0)))


@dataclass(frozen=True)
class HistoryEntry:
    """One application of a migration (or the baseline) to one org."""

    rank: int
    kind: EntryKind
    description: str
    outcome: Outcome
    version: str | None = None
    script: str = ""
    checksum: str = ""
    previous_checksum: str = ""
    applied_at: str = ""
    applied_by: str = ""
    run_id: str = ""
    counts: Counts = field(default_factory=Counts)
    seconds: float = 0.0
    migrator_version: str = ""
    message: str = ""
    digests: dict[str, Any] = field(default_factory=dict)  # Checksum.digests when applied

    @property
    def key(self) -> tuple[str, object]:
        """What the entry is an application of: a version, a repeatable's description, the baseline."""
        return identity(self.kind, self.version, self.description)

    @property
    def active(self) -> bool:
        return self.outcome in ACTIVE_OUTCOMES

    @property
    def label(self) -> str:
        return label(self.kind, self.version, self.description)

    def with_changes(self, **changes: Any) -> HistoryEntry:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryEntry:
        values = dict(data)
        values["counts"] = Counts(**(values.get("counts") or {}))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class LockInfo:
    """Who holds an org's history lock: the holder's run id, since when, by whom, doing what."""

    holder: str
    since: str
    by: str
    command: str = "migrate"


@dataclass(frozen=True)
class History:
    """What a store holds for one org: the entries by rank, and the lock if someone holds it."""

    entries: tuple[HistoryEntry, ...] = ()
    lock: LockInfo | None = None

    @property
    def next_rank(self) -> int:
        return max((e.rank for e in self.entries), default=0) + 1
