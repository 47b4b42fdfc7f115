"""The extract directory: downloaded chunks and what is done, so a killed extract resumes.

    <dir>/extract.json     what is extracted: plan, source org (no secrets), options, when
    <dir>/state.json       every query unit: its SOQL, job, pages downloaded (rows, file); atomic
    <dir>/chunks/<step>/   the pages as the org sent them (CSV), one file per page, renamed into place
    <dir>/sorted/          temporary sorted runs of the big steps

A unit is one query (a whole object, one Id range, one IN list, one PK chunking job). Its pages are
written to a temporary name and renamed, then recorded in `state.json` (written atomically, with
`run/rundir.py`'s helpers): a page on disk but not in the state is downloaded again, a page in the
state is never downloaded again. A resumed unit whose recorded SOQL differs (a subset computed from
other data) starts over.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrator.errors import RunStateError
from migrator.run.rundir import atomic_write_json, read_json

STATE_VERSION = 1
EXTRACTS_DIR = "extracts"


@dataclass(frozen=True)
class ExtractPaths:
    root: Path

    @property
    def extract_id(self) -> str:
        return self.root.name

    @property
    def info(self) -> Path:
        return self.root / "extract.json"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    def chunks(self, step: str) -> Path:
        return self.root / "chunks" / _safe(step)

    @property
    def scratch(self) -> Path:
        return self.root / "sorted"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def extracts_root(home: Path) -> Path:
    return home / EXTRACTS_DIR


@dataclass
class PageRecord:
    file: str  # relative to the extract directory
    rows: int


@dataclass
class UnitState:
    """One query unit as far as it got."""

    id: str
    step: str
    soql: str
    api: str = "bulk2"
    job_id: str | None = None
    batch_id: str | None = None  # PK chunking: the batch posted (the server's chunks hold the data)
    total: int | None = None  # rows the job found, once it completed
    pages: dict[str, PageRecord] = field(default_factory=dict)  # page name -> file
    done: bool = False

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.pages.values())

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "step": self.step, "soql": self.soql, "api": self.api, "job_id": self.job_id,
                "batch_id": self.batch_id, "total": self.total, "done": self.done,
                "pages": {name: {"file": p.file, "rows": p.rows} for name, p in self.pages.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitState:
        return cls(id=data["id"], step=data["step"], soql=data["soql"], api=data.get("api", "bulk2"),
                   job_id=data.get("job_id"), batch_id=data.get("batch_id"), total=data.get("total"),
                   done=bool(data.get("done")),
                   pages={n: PageRecord(p["file"], int(p["rows"])) for n, p in (data.get("pages") or {}).items()})


class ExtractState:
    """The units of one extract, saved after every change; thread-safe (pages arrive from workers)."""

    def __init__(self, paths: ExtractPaths, units: dict[str, UnitState] | None = None):
        self.paths = paths
        self.units: dict[str, UnitState] = units or {}
        self.active: set[str] = set()  # the units this extract asked for (a resumed one may hold others)
        self._lock = threading.RLock()

    @classmethod
    def load(cls, paths: ExtractPaths) -> ExtractState:
        if not paths.state.exists():
            return cls(paths)
        data = read_json(paths.state)
        if data.get("state_version") != STATE_VERSION:
            raise RunStateError(f"{paths.state}: state version {data.get('state_version')} is not supported")
        return cls(paths, {u["id"]: UnitState.from_json(u) for u in data.get("units") or []})

    def save(self) -> None:
        with self._lock:
            atomic_write_json(self.paths.state, {"state_version": STATE_VERSION,
                                                 "units": [u.to_json() for u in self.units.values()]})

    def unit(self, unit_id: str, step: str, soql: str, api: str) -> UnitState:
        """The unit's state; a fresh one when it is new or its query changed (its pages are dropped)."""
        with self._lock:
            self.active.add(unit_id)
            known = self.units.get(unit_id)
            if known is not None and known.soql == soql and known.api == api:
                return known
            if known is not None:
                self._drop_files(known)
            fresh = UnitState(id=unit_id, step=step, soql=soql, api=api)
            self.units[unit_id] = fresh
            self.save()
            return fresh

    def restart(self, unit: UnitState) -> None:
        """Forget what a unit downloaded (its job is gone: a new job could see other data)."""
        with self._lock:
            self._drop_files(unit)
            unit.pages.clear()
            unit.job_id, unit.batch_id, unit.total, unit.done = None, None, None, False
            self.save()

    def update(self, unit: UnitState, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(unit, name, value)
            self.save()

    def add_page(self, unit: UnitState, name: str, path: Path, rows: int) -> None:
        with self._lock:
            unit.pages[name] = PageRecord(path.relative_to(self.paths.root).as_posix(), rows)
            self.save()

    def files(self, step: str) -> Iterator[Path]:
        """The page files of a step's units, in unit then page order."""
        with self._lock:
            units = sorted((u for u in self.units.values() if u.step == step and u.id in self.active),
                           key=lambda u: u.id)
        for unit in units:
            for name in sorted(unit.pages):
                yield self.paths.root / unit.pages[name].file

    def _drop_files(self, unit: UnitState) -> None:
        for page in unit.pages.values():
            (self.paths.root / page.file).unlink(missing_ok=True)
