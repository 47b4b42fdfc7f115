"""`migrator info`, `baseline` and `repair`: read the history, start it, mend it.

- `info` shows every entry with its state, then what is pending (Flyway's ``info``).
- `baseline --version V` starts the history of an org loaded before migrator: one baseline entry
  at V, and every migration up to V is ``below_baseline`` (never applied). Only on an empty history.
- `repair` accepts what a person decided is right: a changed checksum becomes the applied one (the
  old one kept as ``previous_checksum``), a failed entry is ``cleared`` (the migration is pending
  again), a vanished migration's entry is ``deleted``; ``--release-lock`` breaks a stale lock first.
  Nothing is removed from the history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from migrator.compile.manifest import MIGRATOR_VERSION
from migrator.errors import HistoryError
from migrator.history.connect import Settings, connect
from migrator.history.entries import BASELINE_DESCRIPTION, HistoryEntry, LockInfo
from migrator.history.folder import load_folder
from migrator.history.locking import holding_lock
from migrator.history.naming import Version
from migrator.history.states import InfoRow, resolve
from migrator.run.rundir import new_run_id, utc_iso

Event = Callable[[str, Mapping[str, object]], None]
Now = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class InfoResult:
    """The history of one org as `migrator info` shows it, and who holds its lock, if anyone."""

    org_id: str
    target: str
    history: str
    rows: tuple[InfoRow, ...]
    lock: LockInfo | None
    warnings: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.state] = found.get(row.state, 0) + 1
        return found

    def as_dict(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "target": self.target, "history": self.history,
                "lock": None if self.lock is None else asdict(self.lock), "states": self.counts(),
                "migrations": [row.as_dict() for row in self.rows], "warnings": list(self.warnings)}


def info(settings: Settings, *, variables: Mapping[str, str] | None = None) -> InfoResult:
    local = load_folder(settings.folder, variables)
    with connect(settings) as conn:
        history = conn.store.read()
        resolution = resolve(local, history)
        return InfoResult(conn.identity.org_id, conn.target.name, conn.store.location, resolution.rows,
                          history.lock, tuple(resolution.warnings()))


@dataclass(frozen=True)
class BaselineResult:
    """The baseline entry `baseline` recorded, and the migrations of the folder it puts below it."""

    org_id: str
    history: str
    entry: HistoryEntry
    below: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "history": self.history, "baseline": self.entry.as_dict(),
                "below_baseline": list(self.below)}


def baseline(settings: Settings, version: str, *, description: str | None = None, lock_wait: float = 0.0,
             on_event: Event | None = None, now: Now = _now) -> BaselineResult:
    try:
        at = Version.parse(version)
    except ValueError as exc:
        raise HistoryError(f"--version: {exc}") from None
    local = load_folder(settings.folder)
    with connect(settings) as conn:
        lock = LockInfo(holder=new_run_id(now()), since=utc_iso(now()), by=conn.identity.username, command="baseline")
        with holding_lock(conn.store, lock, wait=lock_wait, clock=settings.clock, on_event=on_event):
            history = conn.store.read()
            active = [e for e in history.entries if e.active]
            if active:
                raise HistoryError(f"the history in {conn.store.location} already has {len(active)} entr"
                                   f"{'y' if len(active) == 1 else 'ies'}; baseline starts the history of an org "
                                   "that has none (see `migrator info`)")
            entry = HistoryEntry(rank=history.next_rank, kind="baseline",
                                 description=description or BASELINE_DESCRIPTION, outcome="success",
                                 version=str(at), applied_at=utc_iso(now()), applied_by=conn.identity.username,
                                 migrator_version=MIGRATOR_VERSION)
            conn.store.save([entry])
        below = tuple(m.file.label for m in local if m.file.version is not None and m.file.version <= at)
        return BaselineResult(conn.identity.org_id, conn.store.location, entry, below)


@dataclass(frozen=True)
class RepairAction:
    """One change `repair` made to one history entry, in words."""

    migration: str
    action: str  # "accepted checksum", "cleared failed entry", "marked deleted", "realigned description"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"migration": self.migration, "action": self.action, "detail": self.detail}


@dataclass(frozen=True)
class RepairResult:
    """What `repair` changed in an org's history (nothing removed), and the stale lock it broke, if any."""

    org_id: str
    history: str
    actions: tuple[RepairAction, ...]
    released_lock: LockInfo | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"org_id": self.org_id, "history": self.history, "actions": [a.as_dict() for a in self.actions],
                "released_lock": None if self.released_lock is None else asdict(self.released_lock)}


def repair(settings: Settings, *, release_lock: bool = False, variables: Mapping[str, str] | None = None,
           lock_wait: float = 0.0, on_event: Event | None = None, now: Now = _now) -> RepairResult:
    local = load_folder(settings.folder, variables)
    with connect(settings) as conn:
        released = conn.store.break_lock() if release_lock else None
        lock = LockInfo(holder=new_run_id(now()), since=utc_iso(now()), by=conn.identity.username, command="repair")
        with holding_lock(conn.store, lock, wait=lock_wait, clock=settings.clock, on_event=on_event):
            changes, actions = repairs(resolve(local, conn.store.read()).rows, utc_iso(now()))
            conn.store.save(changes)
        return RepairResult(conn.identity.org_id, conn.store.location, tuple(actions), released)


def repairs(rows: tuple[InfoRow, ...], when: str) -> tuple[list[HistoryEntry], list[RepairAction]]:
    """The entries to rewrite and what each change means (pure: the whole policy in one place)."""
    changes, actions = [], []
    for row in rows:
        entry, local = row.entry, row.local
        if entry is None:
            continue
        if row.state == "changed" and local is not None:
            changes.append(entry.with_changes(checksum=local.checksum.value, previous_checksum=entry.checksum,
                                              digests=local.checksum.digests,
                                              message=f"checksum accepted by repair at {when}"))
            actions.append(RepairAction(row.label, "accepted checksum",
                                        f"{entry.checksum[:12]} -> {local.checksum.short}"))
        elif row.state == "failed":
            changes.append(entry.with_changes(outcome="cleared",
                                              message=f"{entry.message} (cleared by repair at {when})".strip()))
            actions.append(RepairAction(row.label, "cleared failed entry", f"run {entry.run_id or '-'}"))
        elif row.state == "missing":
            changes.append(entry.with_changes(outcome="deleted", message=f"marked deleted by repair at {when}: "
                                                                         f"{entry.script} is gone"))
            actions.append(RepairAction(row.label, "marked deleted", f"{entry.script} is not in the folder"))
        elif row.state == "success" and local is not None and entry.description != local.file.description:
            changes.append(entry.with_changes(description=local.file.description, script=local.file.script))
            actions.append(RepairAction(row.label, "realigned description",
                                        f"{entry.description!r} -> {local.file.description!r}"))
    return changes, actions
