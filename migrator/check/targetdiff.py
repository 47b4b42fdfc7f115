"""The compiled parts against the target: per row, what sending it would do.

Steps on the same object and key (hierarchy levels, the pass-2 update) are read together and the
target is asked once for all their keys, with the fields their columns set. A relationship column
(`Account.Legacy_Id__c`, `Contact:Who.Legacy_Id__c`) holds a parent's key; it is compared as the
parent's Id with the lookup field (`AccountId`, `WhoId`), which costs the org no join. Parents'
Ids come from the parents' own records when the plan loads them (steps run parents first, and a
step's records are read with their Id), and from one more query for the others. The prediction
counts the outcomes; a changed-only load drops the unchanged rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migrator.check.compare import CLEAR, PARENT_MISSING, TEXT, Column, classify, kind_of, text
from migrator.check.current import PARALLEL_QUERIES, CurrentRecords, Fetch, fold, id18
from migrator.check.schema import ObjectInfo, TargetSchema
from migrator.compile.csvio import read_table
from migrator.compile.manifest import Manifest, StepEntry

NEW_PARENT = "\x00new parent"  # stands for the Id of a parent this load creates: equal to no Id


@dataclass
class StepDiff:
    """Outcomes of one compiled step's rows, part by part (in row order), and each part's rows as
    read for the comparison (so that a changed-only load need not read them again)."""

    step: StepEntry
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)
    rows: dict[str, pd.DataFrame] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for outcomes in self.parts.values():
            values, counts = np.unique(outcomes, return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                found[value] = found.get(value, 0) + count
        return found


@dataclass(frozen=True)
class _Sent:
    """How one sent column is read back: the field holding it, its kind, and for a relationship
    column the parent object and key field whose Ids it stands for."""

    header: str
    target: str | None
    kind: str
    parent: tuple[str, str] | None = None


def _columns(step: StepEntry, obj: ObjectInfo) -> list[_Sent]:
    out = []
    for header in step.columns:
        if header == step.key_column:
            continue
        if "." in header:
            typed, _, rest = header.rpartition(":")
            relationship, _, parent_key = rest.partition(".")
            info = obj.relationship(relationship)
            if info is None:
                out.append(_Sent(header, None, "text"))
                continue
            parent = typed or (info.reference_to[0] if info.reference_to else "")
            if parent_key.lower() == "id":
                out.append(_Sent(header, info.name, "id"))
            else:
                out.append(_Sent(header, info.name, "id", (parent, parent_key)))
            continue
        info = obj.field(header)
        if info is not None:  # an unknown field is a schema problem, reported as such
            out.append(_Sent(header, info.name if info.type != "base64" else None, kind_of(info)))
    return out


def fetch_of(obj: ObjectInfo, key: str, columns: tuple[str, ...], keys: pd.Series, case_sensitive: bool) -> Fetch:
    """What to ask the org for: with the object's SystemModstamp and the columns' types, so that what
    is read can be kept for the next comparison (`record_cache`)."""
    stamp = obj.field("SystemModstamp")
    types = tuple((c, info.type) for c in columns if (info := obj.field(c)) is not None)
    return Fetch(obj.name, key, columns, keys, case_sensitive, stamp.name if stamp is not None else None, types)


def _key_field(step: StepEntry, obj: ObjectInfo) -> tuple[str, bool]:
    key = step.key_column or "Id"
    info = obj.field(key)
    return (info.name if info else key), bool(info and info.case_sensitive)


class _ParentIds:
    """Parents' Ids by (object, key field): (folded keys, Ids) as Arrow arrays, filled from records
    already read and completed by a query for the parents the plan does not load."""

    def __init__(self, schema: TargetSchema, records: CurrentRecords):
        self.schema, self.records = schema, records
        self.known: dict[tuple[str, str], list[tuple[pa.Array, pa.Array]]] = {}

    def _add(self, object_name: str, key: str, found: pd.DataFrame) -> None:
        if "Id" in found and len(found):
            pair = (text(found["__match"]), text(id18(found["Id"].astype("str"))))
            self.known.setdefault((object_name.lower(), key.lower()), []).append(pair)

    def remember(self, object_name: str, key: str, current: pd.DataFrame) -> None:
        self._add(object_name, key, current)

    def _arrays(self, where: tuple[str, str]) -> tuple[pa.Array, pa.Array]:
        pairs = self.known.get(where) or [(pa.array([], TEXT), pa.array([], TEXT))]
        return pa.concat_arrays([k for k, _ in pairs]), pa.concat_arrays([i for _, i in pairs])

    def ids(self, parent: str, key: str, values: pd.Series) -> tuple[pa.Array, pa.Array]:
        info = self.schema.get(parent)
        key_info = info.field(key) if info else None
        name, obj = (key_info.name if key_info else key), (info.name if info else parent)
        sensitive = bool(key_info and key_info.case_sensitive)
        where = (obj.lower(), name.lower())
        wanted = pd.Series(pd.unique(values.astype("str")), dtype="str")
        keys, _ = self._arrays(where)
        have = pc.is_in(text(fold(wanted, name, sensitive)), value_set=keys).to_numpy(zero_copy_only=False)
        missing = wanted[~have]
        if len(missing):
            fetch = fetch_of(info, name, (name, "Id"), missing, sensitive) if info is not None else \
                Fetch(obj, name, (name, "Id"), missing, sensitive)
            self._add(obj, name, self.records.fetch(fetch).records)
        return self._arrays(where)


@dataclass
class _Group:
    """The steps on one object and key: their rows, how their columns are read back, and the
    target's current records for their keys."""

    obj: ObjectInfo
    key: str
    steps: list[StepEntry]
    frames: dict[tuple[str, str], pd.DataFrame]
    plans: dict[str, list[_Sent]]
    current: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"__match": pd.Series(dtype="str")}))

    @property
    def case_sensitive(self) -> bool:
        return _key_field(self.steps[0], self.obj)[1]


def diff_steps(manifest: Manifest, plan_dir: Path, schema: TargetSchema, records: CurrentRecords,
               step_ids: Iterable[str]) -> dict[str, StepDiff]:
    """Outcome of every row of the chosen steps (steps on objects the target lacks are left out).

    Every object's records are read at once (the queries run side by side), then the rows are
    classified parents first, so that a child's relationship columns find their parents' Ids."""
    by_key: dict[tuple[str, str], list[StepEntry]] = {}
    for step in (manifest.step(i) for i in step_ids):
        obj = schema.get(step.object)
        if obj is not None:
            by_key.setdefault((obj.name, _key_field(step, obj)[0]), []).append(step)
    groups = [_Group(schema.objects[name], key, steps,
                     {(s.id, p.path): read_table(plan_dir / p.path) for s in steps for p in s.parts},
                     {s.id: _columns(s, schema.objects[name]) for s in steps})
              for (name, key), steps in by_key.items()]
    parent_objects = {c.parent[0].lower() for g in groups for cols in g.plans.values() for c in cols if c.parent}
    with ThreadPoolExecutor(max_workers=max(1, min(len(groups), PARALLEL_QUERIES))) as pool:
        for group, current in zip(groups, pool.map(lambda g: _read(g, records, g.obj.name.lower() in parent_objects),
                                                   groups), strict=True):
            group.current = current
    parents = _ParentIds(schema, records)
    for group in groups:
        parents.remember(group.obj.name, group.key, group.current)
    planned = {(g.obj.name.lower(), g.key.lower()): _sent_keys(g) for g in groups}
    diffs: dict[str, StepDiff] = {}
    for group in groups:  # in load order: parents before their children
        diffs.update(_classify(group, parents, planned))
    return diffs


def _sent_keys(group: _Group) -> pa.Array:
    """The folded keys the group's steps send: parents this load creates or updates."""
    keys = [text(fold(frame[s.key_column], group.key, group.case_sensitive)) for s in group.steps for p in s.parts
            if s.key_column in (frame := group.frames[(s.id, p.path)])]
    return pa.concat_arrays(keys) if keys else pa.array([], TEXT)


def _read(group: _Group, records: CurrentRecords, with_ids: bool) -> pd.DataFrame:
    """The target's records for the group's keys: the key, the Id when children need it, the fields."""
    keys = [frame[s.key_column] for s in group.steps for p in s.parts
            if s.key_column in (frame := group.frames[(s.id, p.path)])]
    if {s.operation for s in group.steps} == {"insert"} or not keys:
        return group.current
    key = group.key
    targets = dict.fromkeys(c.target for columns in group.plans.values() for c in columns if c.target)
    select = (key, *(["Id"] if with_ids and key != "Id" else []), *[t for t in targets if t not in (key, "Id")])
    return records.fetch(fetch_of(group.obj, key, select, pd.concat(keys, ignore_index=True),
                                  group.case_sensitive)).records


def _resolve_parents(rows: pd.DataFrame, header: str, parent: tuple[str, str], parents: _ParentIds,
                     planned: dict[tuple[str, str], pa.Array]) -> tuple[pa.Array, np.ndarray]:
    """A relationship column's parent keys as the parents' Ids (one lookup for all the step's rows):
    blanks and `#N/A` stay as they are, a parent the org does not have yet (this load creates it)
    becomes a value no Id equals, so it is a change. Also the rows whose parent neither the org nor
    this load has: the org would fail them."""
    values = text(rows[header])
    lowered = pc.utf8_lower(values)
    named = pc.and_(pc.not_equal(lowered, ""), pc.not_equal(lowered, "#n/a"))
    keys, ids = parents.ids(*parent, rows[header][(rows[header] != "") & (rows[header] != CLEAR)])
    at = pc.index_in(lowered, value_set=keys)
    known = at.is_valid()
    sent = planned.get((parent[0].lower(), parent[1].lower()))
    if sent is not None:
        known = pc.or_(known, pc.is_in(lowered, value_set=pc.utf8_lower(sent)))
    orphans = pc.and_(named, pc.invert(known)).to_numpy(zero_copy_only=False)
    keep = pc.or_(pc.equal(values, ""), pc.equal(values, CLEAR))
    return pc.if_else(keep, values, pc.fill_null(pc.cast(ids.take(at), TEXT), NEW_PARENT)), orphans


def _classify(group: _Group, parents: _ParentIds, planned: dict[tuple[str, str], pa.Array]) -> dict[str, StepDiff]:
    """Every row of each step at once (its parts side by side), so that each lookup is built once."""
    diffs = {}
    for step in group.steps:
        diff = StepDiff(step)
        frames = [group.frames[(step.id, p.path)] for p in step.parts]
        if not frames:
            diffs[step.id] = diff
            continue
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
        columns: list[Column] = []
        orphans = np.zeros(len(rows), dtype=bool)
        for sent in group.plans[step.id]:
            if sent.parent is None:
                columns.append(Column(sent.header, sent.target, sent.kind))
                continue
            resolved, missing = _resolve_parents(rows, sent.header, sent.parent, parents, planned)
            rows[sent.header] = pd.Series(resolved, dtype=pd.ArrowDtype(TEXT))
            orphans |= missing
            columns.append(Column(sent.header, sent.target, "id"))
        outcome = classify(rows, step.key_column or group.key, group.current, columns, operation=step.operation,
                           case_sensitive=group.case_sensitive).to_numpy()
        outcome = np.where(orphans, PARENT_MISSING, outcome)
        keys = (rows[step.key_column].to_numpy() if step.key_column in rows
                else np.full(len(rows), "", dtype=object))
        start = 0
        for part, frame in zip(step.parts, frames, strict=True):
            diff.parts[part.path] = outcome[start:start + len(frame)]
            diff.keys[part.path] = keys[start:start + len(frame)]
            diff.rows[part.path] = frame
            start += len(frame)
        diffs[step.id] = diff
    return diffs
