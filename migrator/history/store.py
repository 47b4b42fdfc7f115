"""Where an org's history lives: the contract both stores keep (in the org, or in a file).

`read` gives every entry and the lock; `save` writes entries by rank (new ones appended, changed ones
replaced: idempotent, so a retried write cannot duplicate an entry); `acquire` takes the lock or raises
`HistoryLockedError` naming the holder; `release` gives back a lock this process took; `break_lock`
removes whatever lock is there (a stale one, after a killed run) and says whose it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from migrator.errors import HistoryLockedError
from migrator.history.entries import History, HistoryEntry, LockInfo


class HistoryStore(Protocol):
    kind: str  # "org" or "file"
    location: str  # for people: where the history is kept

    def read(self) -> History: ...

    def save(self, entries: Sequence[HistoryEntry]) -> None: ...

    def acquire(self, lock: LockInfo) -> None: ...

    def release(self) -> None: ...

    def break_lock(self) -> LockInfo | None: ...


def locked_error(location: str, lock: LockInfo) -> HistoryLockedError:
    """The refusal a second run gets, with what it needs to tell a running migrate from a stale lock."""
    return HistoryLockedError(
        f"the migration history in {location} is locked by run {lock.holder} ({lock.command} by {lock.by or '?'}, "
        f"since {lock.since or '?'}); wait for it to finish (or pass --lock-wait SECONDS). If that run is no "
        "longer running (it was killed), release its lock with `migrator repair --release-lock`",
        holder=lock.holder, since=lock.since, by=lock.by)
