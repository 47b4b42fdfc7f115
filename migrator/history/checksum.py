"""The checksum of a migration: the plan as loaded, and the bytes of every source file it reads.

Flyway checksums a SQL script; a data migration is a plan *and* its data, so both are covered:
changing one row of ``accounts.csv`` after V001 was applied is drift just like changing a mapping.
The plan side is the loaded `Plan` (variables applied, defaults merged), not its text, so a comment
or a reformat is not drift while a changed `--var` is. Nothing machine-specific enters: no absolute
path, no line number, so a fresh clone on another machine computes the same checksum.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrator.compile.sources import resolve_source
from migrator.plan.model import Plan

# Where the plan was read from, not what it says: left out of the checksum (with the project's
# folders, where load_order names are written, and the checks' warnings, which name places too).
_PLACE_FIELDS = frozenset({"location", "file", "sources_dir", "checksum", "roots", "load_order_locations",
                           "warnings"})
SHORT = 12


@dataclass(frozen=True)
class Checksum:
    """A migration's checksum (sha256 hex) and the digests it was made of: the loaded plan's and each
    source file's. The history keeps the digests too, so drift can say *what* changed."""

    value: str
    sources: tuple[tuple[str, str], ...] = ()
    plan: str = ""

    @property
    def short(self) -> str:
        return self.value[:SHORT]

    @property
    def digests(self) -> dict[str, Any]:
        return {"plan": self.plan, "files": dict(self.sources)}


def changed_parts(applied: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What differs between two `digests`: ``the plan`` and the names of files changed, added or gone."""
    if not applied:
        return []
    parts = ["the plan"] if applied.get("plan") != current.get("plan") else []
    before, after = dict(applied.get("files") or {}), dict(current.get("files") or {})
    for name in sorted(set(before) | set(after)):
        if name not in after:
            parts.append(f"{name} (gone)")
        elif name not in before:
            parts.append(f"{name} (new)")
        elif before[name] != after[name]:
            parts.append(name)
    return parts


def _without_places(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_places(v) for k, v in value.items() if k not in _PLACE_FIELDS}
    if isinstance(value, list | tuple):
        return [_without_places(v) for v in value]
    return value


def plan_content(plan: Plan) -> dict[str, Any]:
    """The loaded plan as plain data, without where it was read from."""
    return _without_places(dataclasses.asdict(plan))


def source_files(plan: Plan) -> list[tuple[str, Path]]:
    """(name relative to the plan's sources directory, path) of every file the plan reads, sorted."""
    files: dict[str, Path] = {}
    for step in plan.objects:
        for path in resolve_source(plan.sources_dir, step.source):
            files[Path(os.path.relpath(path, plan.sources_dir)).as_posix()] = path
    return sorted(files.items())


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _sha256_json(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def migration_checksum(plan: Plan) -> Checksum:
    sources = tuple((name, file_digest(path)) for name, path in source_files(plan))
    plan_digest = _sha256_json(plan_content(plan))
    return Checksum(_sha256_json({"plan": plan_digest, "sources": [list(pair) for pair in sources]}), sources,
                    plan_digest)
