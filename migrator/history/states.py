"""What the history says of each migration: Flyway's states, worked out from the folder and the entries.

Pure: a list of local migrations (with checksums) and a `History` in, a `Resolution` out, so every
state is unit-tested without an org. The states:

- ``success``: applied, and the file still has the checksum it was applied with;
- ``pending``: not applied yet; ``failed``: its last attempt failed (the next `migrate` resumes it);
- ``changed``: a versioned migration applied with another checksum (drift: `migrate` refuses until
  `repair` accepts it); ``outdated``: a repeatable whose checksum changed (it will run again);
- ``ignored``: not applied although a later version was (added out of order: refused unless
  ``--out-of-order``); ``below_baseline``: at or under the baseline version, never to be applied;
- ``baseline``: the baseline entry; ``missing``: applied, but its file is gone (refused until `repair`
  marks it ``deleted``); ``future``: applied by a newer folder than this one (a warning);
- ``superseded``: an older application of a migration applied again since (repeatables, resumed
  failures); ``cleared`` / ``deleted``: entries `repair` set aside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from migrator.history.checksum import Checksum, changed_parts
from migrator.history.entries import History, HistoryEntry
from migrator.history.naming import MigrationFile, Version, label

State = Literal["success", "pending", "failed", "changed", "outdated", "ignored", "below_baseline", "baseline",
                "missing", "future", "superseded", "cleared", "deleted"]
TO_APPLY = frozenset({"pending", "failed", "outdated"})
BLOCKING = frozenset({"changed", "missing", "ignored"})


@dataclass(frozen=True)
class LocalMigration:
    """A migration of the folder with the checksum of its plan and data as they are now."""

    file: MigrationFile
    checksum: Checksum
    variables: Mapping[str, str] = field(default_factory=dict)  # the plan's, after --var

    @property
    def key(self) -> tuple[str, object]:
        return self.file.key

    @property
    def path(self) -> Path:
        return self.file.path


@dataclass(frozen=True)
class InfoRow:
    """One line of `migrator info`: a history entry, a migration not applied yet, or both."""

    state: State
    kind: str
    description: str
    version: str | None = None
    script: str = ""
    entry: HistoryEntry | None = None
    local: LocalMigration | None = None

    @property
    def label(self) -> str:
        return label(self.kind, self.version, self.description)

    def as_dict(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "state": self.state, "kind": self.kind, "version": self.version, "description": self.description,
            "script": self.script, "checksum": entry.checksum if entry else None,
            "local_checksum": self.local.checksum.value if self.local else None,
            "entry": entry.as_dict() if entry else None,
        }


@dataclass(frozen=True)
class Resolution:
    rows: tuple[InfoRow, ...]

    def state_of(self, migration: LocalMigration) -> State:
        return next(row.state for row in self.rows if row.local is migration and row.state != "superseded")

    def problems(self, *, out_of_order: bool = False) -> list[dict[str, Any]]:
        """What keeps `migrate` from running: drift to accept, files gone, migrations out of order."""
        found = []
        for row in self.rows:
            if row.state not in BLOCKING or (row.state == "ignored" and out_of_order):
                continue
            found.append({"migration": row.label, "script": row.script, "state": row.state,
                          "message": _problem_text(row), "applied_checksum": row.entry.checksum if row.entry else None,
                          "current_checksum": row.local.checksum.value if row.local else None})
        return found

    def pending(self, *, to: Version | None = None, out_of_order: bool = False) -> list[LocalMigration]:
        """The migrations `migrate` would apply, in order: versions up to `to`, then repeatables."""
        wanted = TO_APPLY | ({"ignored"} if out_of_order else set())
        chosen = [row.local for row in self.rows
                  if row.local is not None and row.state in wanted
                  and not (to is not None and row.local.file.version is not None and row.local.file.version > to)]
        versioned = sorted((m for m in chosen if m.file.version is not None), key=lambda m: m.file.version.key)  # type: ignore[union-attr]
        repeatable = sorted((m for m in chosen if m.file.version is None), key=lambda m: m.file.description.lower())
        return versioned + repeatable

    def warnings(self) -> list[str]:
        return [f"{row.label} was applied by a newer migrations folder than this one" for row in self.rows
                if row.state == "future"]


def _problem_text(row: InfoRow) -> str:
    if row.state == "changed" and row.entry is not None and row.local is not None:
        parts = changed_parts(row.entry.digests, row.local.checksum.digests)
        what = f" (changed: {', '.join(parts)})" if parts else ""
        return (f"{row.label} ({row.script}) was applied with checksum {row.entry.checksum} but its plan or data "
                f"now has checksum {row.local.checksum.value}{what}; if the change is intended, accept it with "
                "`migrator repair`")
    if row.state == "missing":
        return (f"{row.label} ({row.script}) was applied but is no longer in the migrations folder; restore "
                "it, or mark it deleted with `migrator repair`")
    return (f"{row.label} ({row.script}) was never applied, but a later version was; renumber it, or apply it "
            "out of order with `migrator migrate --out-of-order`")


def resolve(local: Sequence[LocalMigration], history: History) -> Resolution:
    """Every entry of the history with its state (by rank), then the migrations not applied yet."""
    entries = sorted(history.entries, key=lambda e: e.rank)
    current: dict[tuple[str, object], HistoryEntry] = {}
    for entry in entries:
        if entry.active:
            current[entry.key] = entry
    by_key = {migration.key: migration for migration in local}
    baseline = current.get(("baseline", None))
    baseline_version = Version.parse(baseline.version or "0") if baseline else None
    applied = [key[1] for key, e in current.items() if key[0] == "versioned" and e.outcome == "success"]
    highest = max([v for v in (*applied, baseline_version) if isinstance(v, Version)], default=None)
    newest_local = max((m.file.version for m in local if m.file.version is not None), default=None)

    rows = []
    for entry in entries:
        mine = by_key.get(entry.key)
        state = _entry_state(entry, current.get(entry.key) is entry, mine, newest_local)
        rows.append(InfoRow(state, entry.kind, entry.description, entry.version, entry.script, entry,
                            mine if state != "superseded" else None))
    for migration in local:
        if migration.key in current:
            continue
        version = migration.file.version
        state: State = "pending"
        if version is not None and baseline_version is not None and version <= baseline_version:
            state = "below_baseline"
        elif version is not None and highest is not None and version < highest:
            state = "ignored"
        rows.append(InfoRow(state, migration.file.kind, migration.file.description,
                            str(version) if version else None, migration.file.script, None, migration))
    return Resolution(tuple(rows))


def _entry_state(entry: HistoryEntry, is_current: bool, local: LocalMigration | None,
                 newest_local: Version | None) -> State:
    if not entry.active:
        return "deleted" if entry.outcome == "deleted" else "cleared"
    if not is_current:
        return "superseded"
    if entry.kind == "baseline":
        return "baseline"
    if local is None:
        future = (entry.kind == "versioned" and newest_local is not None
                  and Version.parse(entry.version or "0") > newest_local)
        return "future" if future else "missing"
    if entry.outcome == "failed":
        return "failed"
    if local.checksum.value == entry.checksum:
        return "success"
    return "changed" if entry.kind == "versioned" else "outdated"
