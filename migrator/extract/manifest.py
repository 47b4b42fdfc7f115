"""`extract_manifest.json`: what an extract wrote, beside the files it wrote.

Per step: the file, its rows, bytes and sha256, the column it is sorted by, where every column
came from, the fields the plan computes (not extracted: a reload computes them again) and, per
column, what cannot come back exactly (values a map would not restore, blanks that load back as a
default, links to objects the plan does not load). No timestamps and no org Ids: the same data
gives the same manifest, so a dataset kept in git changes only where the data changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migrator.extract.gather import Selection
from migrator.extract.options import ExtractOptions, StepFile
from migrator.extract.readback import (
    BlankColumn,
    Column,
    FieldColumn,
    IdColumn,
    LookupColumn,
    PolymorphicColumn,
    StepReadBack,
    TypeColumn,
)
from migrator.extract.shape import ShapeStats
from migrator.extract.write import WrittenFile
from migrator.plan.model import Plan
from migrator.run.rundir import atomic_write_bytes

MANIFEST_NAME = "extract_manifest.json"
MANIFEST_VERSION = 1


def describe_column(column: Column) -> dict[str, Any]:
    """Where a column came from, for people."""
    if isinstance(column, FieldColumn):
        text = column.path + (" (else the record's Id)" if column.fallback_id else "")
        return {"column": column.column, "from": text, "field": column.field,
                **({"map": "inverted"} if column.values is not None else {})}
    if isinstance(column, LookupColumn):
        text = column.path or column.field
        if column.fallback_id and column.path:
            text += f" (else {column.field})"
        return {"column": column.column, "from": text, "field": column.field}
    if isinstance(column, PolymorphicColumn):
        keys = ", ".join(f"{obj}.{key}" for obj, key in column.keys.items())
        return {"column": column.column, "from": f"{column.field} as the key of its parent ({keys})",
                "field": column.field}
    if isinstance(column, TypeColumn):
        return {"column": column.column, "from": column.type_path, "field": column.field}
    if isinstance(column, IdColumn):
        return {"column": column.column, "from": "Id"}
    assert isinstance(column, BlankColumn)
    return {"column": column.column, "from": None, "blank": column.reason}


def _warnings(step: str, stats: ShapeStats, without_key: int) -> list[str]:
    found = []
    for column, counts in sorted(stats.columns.items()):
        if counts.unrestorable:
            found.append(f"{step}.{column}: {counts.unrestorable} value(s) the plan's map would not load back as "
                         f"they are (e.g. {', '.join(map(repr, [v for v, _ in counts.examples.most_common(3)]))})")
        if counts.outside_plan:
            found.append(f"{step}.{column}: {counts.outside_plan} link(s) to objects the plan does not load, "
                         "written blank")
        if counts.unresolved:
            found.append(f"{step}.{column}: {counts.unresolved} link(s) to records whose key was not found, "
                         "written blank")
    if without_key:
        found.append(f"{step}: {without_key} row(s) without a key: a reload cannot upsert them")
    return found


def build(plan: Plan, target: str, options: ExtractOptions, selection: Selection,
          readbacks: Mapping[str, StepReadBack], modes: Mapping[str, str], files: list[StepFile],
          written: list[WrittenFile], stats: Mapping[str, ShapeStats], out_dir: Path) -> dict[str, Any]:
    steps, warnings = [], []
    by_step = {f.step: (f, w) for f, w in zip(files, written, strict=True)}
    for name, readback in readbacks.items():
        _file, result = by_step[name]
        step_stats = stats.get(name, ShapeStats())
        without_key = step_stats.without_key
        warnings += _warnings(name, step_stats, without_key)
        steps.append({
            "step": name, "object": readback.object, "file": readback.file, "rows": result.rows,
            "bytes": result.bytes, "sha256": result.sha256, "mode": modes.get(name, "whole"),
            "sorted_by": readback.key_column,
            "columns": [describe_column(c) for c in readback.columns],
            "computed": [{"field": c.field, "reason": c.reason} for c in readback.computed],
            "not_restored": step_stats.to_json(),
            **({"without_key": without_key} if without_key else {}),
        })
    return {
        "extract_manifest_version": MANIFEST_VERSION,
        "plan": {"name": plan.name, "file": plan.file.name, "checksum": plan.checksum},
        "source": target,
        "selection": {"select": list(options.select), "where": dict(selection.where), "limit": selection.limit},
        "steps": steps,
        "totals": {"files": len(steps), "rows": sum(s["rows"] for s in steps)},
        "warnings": warnings,
    }


def write(out_dir: Path, document: dict[str, Any]) -> Path:
    path = out_dir / MANIFEST_NAME
    atomic_write_bytes(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return path


def read(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
