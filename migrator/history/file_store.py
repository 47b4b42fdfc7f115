"""The history in a file the team commits: ``<migrations>/history/<org id>.json``.

For orgs where the history object cannot be deployed. The user chooses it explicitly
(``[migrations] history = "file"``); the file is JSON with one entry per application, written
atomically. The lock is a ``<org id>.lock`` file created exclusively beside it (and kept out of git
by a ``.gitignore`` written into the folder): it stops two runs sharing this checkout, not two
machines, which is why the history object in the org is the default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from migrator.errors import HistoryError, RunStateError
from migrator.history.entries import History, HistoryEntry, LockInfo
from migrator.history.store import locked_error
from migrator.run.rundir import atomic_write_json, read_json

FORMAT = "migrator-history"
FORMAT_VERSION = 1
GITIGNORE = "# lock files of running migrations; the .json histories are committed\n*.lock\n"


class FileHistoryStore:
    kind = "file"

    def __init__(self, folder: Path, org_id: str):
        self.folder = folder
        self.org_id = org_id
        self.path = folder / f"{org_id}.json"
        self.lock_path = folder / f"{org_id}.lock"
        self.location = f"file {self.path}"
        self._holding = False

    def read(self) -> History:
        lock = self._read_lock()
        if not self.path.exists():
            return History(lock=lock)
        data = self._document()
        try:
            entries = tuple(HistoryEntry.from_dict(item) for item in data["entries"])
        except (KeyError, TypeError, ValueError) as exc:
            raise HistoryError(f"{self.path} is not a migrator history ({type(exc).__name__}: {exc})") from None
        return History(tuple(sorted(entries, key=lambda e: e.rank)), lock)

    def save(self, entries: Sequence[HistoryEntry]) -> None:
        existing = {e.rank: e for e in self.read().entries}
        existing.update({e.rank: e for e in entries})
        self._ensure_folder()
        atomic_write_json(self.path, {"format": FORMAT, "version": FORMAT_VERSION, "org_id": self.org_id,
                                      "entries": [existing[rank].as_dict() for rank in sorted(existing)]})

    def acquire(self, lock: LockInfo) -> None:
        self._ensure_folder()
        try:
            handle = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = self._read_lock()
            if held is None:  # released between our attempt and our look: try once more
                return self.acquire(lock)
            raise locked_error(self.location, held) from None
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(asdict(lock), out)
        self._holding = True
        return None

    def release(self) -> None:
        if self._holding:
            self.lock_path.unlink(missing_ok=True)
            self._holding = False

    def break_lock(self) -> LockInfo | None:
        held = self._read_lock()
        self.lock_path.unlink(missing_ok=True)
        return held

    def _document(self) -> dict[str, Any]:
        try:
            data = read_json(self.path)
        except RunStateError as exc:
            raise HistoryError(str(exc)) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise HistoryError(f"{self.path} is not a migrator history file")
        if data.get("version") != FORMAT_VERSION:
            raise HistoryError(f"{self.path}: history format version {data.get('version')} is not supported")
        if data.get("org_id") != self.org_id:
            raise HistoryError(f"{self.path} holds the history of org {data.get('org_id')}, not {self.org_id}")
        return data

    def _read_lock(self) -> LockInfo | None:
        try:
            data = json.loads(self.lock_path.read_text(encoding="utf-8") or "{}")
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            data = {}
        return LockInfo(holder=str(data.get("holder") or "?"), since=str(data.get("since") or ""),
                        by=str(data.get("by") or ""), command=str(data.get("command") or "migrate"))

    def _ensure_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text(GITIGNORE, encoding="utf-8")
