"""Digests of what a compile reads: the loaded plan (without where it was read from) and the bytes
of every source file. Shared by the compile cache (compile again only when one of them changed) and
the migration checksums of history/ (drift is a changed digest).

The plan side is the loaded `Plan` (variables applied, defaults merged), not its text, so a comment
or a reformat does not change it while a changed `--var` does. Nothing machine-specific enters: no
absolute path, no line number, so a fresh clone on another machine computes the same digests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from migrator.compile.sources import resolve_source
from migrator.plan.model import Plan

# Where the plan was read from, not what it says: left out of the digest (with the project's
# folders, where load_order names are written, and the checks' warnings, which name places too).
PLACE_FIELDS = frozenset({"location", "file", "sources_dir", "files_dir", "checksum", "roots", "load_order_locations",
                          "warnings"})


def _without_places(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_places(v) for k, v in value.items() if k not in PLACE_FIELDS}
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


def sha256_json(document: Any) -> str:
    """The sha256 of `document` as canonical JSON (sorted keys, no spaces; other types as str)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
