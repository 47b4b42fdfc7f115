"""The checksum of a migration: the plan as loaded, and the bytes of every source file it reads.

Flyway checksums a SQL script; a data migration is a plan *and* its data, so both are covered:
changing one row of ``accounts.csv`` after V001 was applied is drift just like changing a mapping.
The plan side is the loaded `Plan` (variables applied, defaults merged), not its text, so a comment
or a reformat is not drift while a changed `--var` is (the digests themselves are compile/digests.py's,
shared with the compile cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migrator.compile.digests import file_digest, plan_content, sha256_json, source_files
from migrator.plan.model import Plan

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


def migration_checksum(plan: Plan) -> Checksum:
    sources = tuple((name, file_digest(path)) for name, path in source_files(plan))
    plan_digest = sha256_json(plan_content(plan))
    return Checksum(sha256_json({"plan": plan_digest, "sources": [list(pair) for pair in sources]}), sources,
                    plan_digest)
