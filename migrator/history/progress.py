"""Live progress of a `migrate`: a line per migration, and under it the run's own progress bars.

Each migration is a run of its own, with its own steps (two migrations may both have an ``Account``
step), so every migration gets a fresh `RunProgress`, opened when it starts and closed when it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from rich.console import Console

from migrator.run.progress import RunProgress


class MigrateProgress:
    def __init__(self, console: Console):
        self.console = console
        self._run: RunProgress | None = None

    def __enter__(self) -> MigrateProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close(exc_type, exc, tb)

    def __call__(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "migrate_started":
            pending = data.get("pending") or []
            verb = "would apply" if data.get("dry_run") else "to apply"
            self._say(f"Org {data.get('org_id')} · history in {data.get('history')} · {len(pending)} {verb}")
        elif kind == "lock_waiting":
            self._say(f"History locked by run {data.get('holder')} ({data.get('by') or '?'}); waiting up to "
                      f"{float(data.get('seconds') or 0):g} s")
        elif kind == "migration_started":
            self._close(None, None, None)
            self._say(f"▶ {data.get('migration')}")
            if not data.get("dry_run"):
                self._run = RunProgress(self.console).__enter__()
        elif kind == "migration_done":
            self._close(None, None, None)
        elif self._run is not None:
            self._run(kind, data)

    def _close(self, exc_type: type[BaseException] | None, exc: BaseException | None,
               tb: TracebackType | None) -> None:
        if self._run is not None:
            self._run.__exit__(exc_type, exc, tb)
            self._run = None

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)
