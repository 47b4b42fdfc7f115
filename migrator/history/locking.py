"""Holding an org's history lock for the length of a command, waiting for it if asked to.

Every command that writes the history (`migrate`, `baseline`, `repair`) takes the lock first and
re-reads the history under it, so what it decides is based on what is really there. A second run
is refused at once with the holder's run id, or with ``--lock-wait SECONDS`` polls until the
lock is free or the time is up. The lock is released however the command ends, Ctrl-C included;
only a killed process leaves it behind, for `repair --release-lock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from migrator.errors import HistoryLockedError
from migrator.history.entries import LockInfo
from migrator.history.store import HistoryStore
from migrator.run.executor import Clock

Event = Callable[[str, Mapping[str, object]], None]
POLL_SECONDS = 1.0


@contextmanager
def holding_lock(store: HistoryStore, lock: LockInfo, *, wait: float = 0.0, clock: Clock | None = None,
                 on_event: Event | None = None) -> Iterator[None]:
    clock = clock or Clock()
    deadline = clock.monotonic() + max(wait, 0.0)
    told = False
    while True:
        try:
            store.acquire(lock)
            break
        except HistoryLockedError as exc:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise
            if on_event is not None and not told:
                on_event("lock_waiting", {"holder": exc.holder, "since": exc.since, "by": exc.by,
                                          "seconds": wait})
                told = True
            clock.sleep(min(POLL_SECONDS, remaining))
    try:
        yield
    finally:
        store.release()
