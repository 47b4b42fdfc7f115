"""The compiled parts against the target: per row, what sending it would do.

Steps on the same object and key (hierarchy levels, the pass-2 update) are read together and the
target is asked once for all their keys, with every field, `Rel.Key` traversal and polymorphic
lookup Id their columns need. A polymorphic column holds a parent's key, so the parents' Ids are
looked up too (once per parent object and key field). The prediction counts the outcomes; a
changed-only load drops the unchanged rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from migrator.check.compare import Column, classify, kind_of
from migrator.check.current import CurrentRecords, Fetch, fold, id18
from migrator.check.schema import ObjectInfo, TargetSchema
from migrator.compile.csvio import read_table
from migrator.compile.manifest import Manifest, StepEntry


@dataclass
class StepDiff:
    """Outcomes of one compiled step's rows, part by part (in row order)."""

    step: StepEntry
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for outcomes in self.parts.values():
            values, counts = np.unique(outcomes, return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                found[value] = found.get(value, 0) + count
        return found


def _columns(step: StepEntry, obj: ObjectInfo) -> list[tuple[str, str | None, str, tuple[str, str] | None]]:
    """(sent column, target column or None, kind, (parent object, parent key) for polymorphic ones)."""
    out = []
    for header in step.columns:
        if header == step.key_column:
            continue
        if "." in header:
            typed, _, rest = header.rpartition(":") if ":" in header else ("", "", header)
            relationship, _, parent_key = rest.partition(".")
            info = obj.relationship(relationship)
            if info is None:
                out.append((header, None, "text", None))
            elif typed:
                out.append((header, info.name, "id", (typed, parent_key)))
            else:
                out.append((header, f"{info.relationship_name}.{parent_key}",
                            "id" if parent_key.lower() == "id" else "key", None))
            continue
        info = obj.field(header)
        if info is None:
            continue  # a schema problem, reported as such
        out.append((header, info.name if info.type != "base64" else None, kind_of(info), None))
    return out


def _key_field(step: StepEntry, obj: ObjectInfo) -> tuple[str, bool]:
    key = step.key_column or "Id"
    info = obj.field(key)
    return (info.name if info else key), bool(info and info.case_sensitive)


def diff_steps(manifest: Manifest, plan_dir: Path, schema: TargetSchema, records: CurrentRecords,
               step_ids: Iterable[str]) -> dict[str, StepDiff]:
    """Outcome of every row of the chosen steps (steps on objects the target lacks are left out)."""
    chosen = [manifest.step(i) for i in step_ids]
    groups: dict[tuple[str, str], list[StepEntry]] = {}
    for step in chosen:
        obj = schema.get(step.object)
        if obj is None:
            continue
        groups.setdefault((obj.name, _key_field(step, obj)[0]), []).append(step)
    diffs: dict[str, StepDiff] = {}
    for (object_name, key), steps in groups.items():
        obj = schema.objects[object_name]
        diffs.update(_diff_group(obj, key, steps, plan_dir, schema, records))
    return diffs


def _diff_group(obj: ObjectInfo, key: str, steps: list[StepEntry], plan_dir: Path, schema: TargetSchema,
                records: CurrentRecords) -> dict[str, StepDiff]:
    case_sensitive = _key_field(steps[0], obj)[1]
    frames = {(s.id, p.path): read_table(plan_dir / p.path) for s in steps for p in s.parts}
    plans = {s.id: _columns(s, obj) for s in steps}
    keys = pd.concat([f[s.key_column] for s in steps for p in s.parts
                      if (f := frames[(s.id, p.path)]) is not None and s.key_column in f] or
                     [pd.Series(dtype="str")], ignore_index=True)
    targets = list(dict.fromkeys(t for columns in plans.values() for _, t, _, _ in columns if t))
    operations = {s.operation for s in steps}
    current = pd.DataFrame({"__match": pd.Series(dtype="str")})
    if operations != {"insert"} and not keys.empty:
        current = records.fetch(Fetch(obj.name, key, (key, *[t for t in targets if t != key]),
                                      keys.tolist(), case_sensitive)).records
    parent_ids = _parent_ids(plans, steps, frames, schema, records)
    diffs = {}
    for step in steps:
        diff = StepDiff(step)
        columns = [Column(sent, target, kind, parent_ids.get(parent) if parent else None)
                   for sent, target, kind, parent in plans[step.id]]
        for part in step.parts:
            rows = frames[(step.id, part.path)]
            outcome = classify(rows, step.key_column or key, current, columns, operation=step.operation,
                               case_sensitive=case_sensitive)
            diff.parts[part.path] = outcome.to_numpy()
            diff.keys[part.path] = (rows[step.key_column].to_numpy() if step.key_column in rows
                                    else np.full(len(rows), "", dtype=object))
        diffs[step.id] = diff
    return diffs


def _parent_ids(plans: dict[str, list], steps: list[StepEntry], frames: dict, schema: TargetSchema,
                records: CurrentRecords) -> dict[tuple[str, str], dict[str, str]]:
    """For each polymorphic (parent object, parent key): the org's Ids of the parents the rows name."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for step in steps:
        for sent, _, _, parent in plans[step.id]:
            if parent is None:
                continue
            for part in step.parts:
                values = frames[(step.id, part.path)][sent]
                wanted.setdefault(parent, set()).update(values[(values != "") & (values != "#N/A")])
    found: dict[tuple[str, str], dict[str, str]] = {}
    for (parent, parent_key), values in wanted.items():
        info = schema.get(parent)
        key_info = info.field(parent_key) if info else None
        name = key_info.name if key_info else parent_key
        sensitive = bool(key_info and key_info.case_sensitive)
        fetched = records.fetch(Fetch(parent, name, (name, "Id"), sorted(values), sensitive)).records
        found[(parent, parent_key)] = dict(zip(fold(fetched[name].astype("str"), name, sensitive),
                                               id18(fetched["Id"].astype("str")), strict=True)) if len(fetched) else {}
    return found
