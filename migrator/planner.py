"""Plan + sources -> compiled plan on disk: the exact CSVs `run` will send, and why rows were refused.

The planner streams each step's sources in chunks through `transform`, then applies the checks
that need the whole step or the whole plan: repeated keys, children whose parent is not in the
data, hierarchy levels, and lookups deferred to a second pass. Steps are compiled parents first,
so a child's parent keys are known when the child is checked. Memory stays flat: rows go
straight to part files, and only key hashes (8 bytes a row) are kept. Hierarchical steps are
spilled once to a temporary Arrow file because a row's level is known only after the last row.
No network: this is the dry run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from migrator import hierarchy
from migrator.csvio import DEFAULT_BLOCK_BYTES, PartInfo, PartWriter, TableAppender, read_source
from migrator.errors import PlanError, Problem, UsageError
from migrator.graph import LoadOrder, StepNode, build_load_order, expand_steps
from migrator.keys import KeySet, first_occurrences, key_hashes
from migrator.manifest import (
    MANIFEST_FILE,
    MISSING_PARENT_COLUMNS,
    MISSING_PARENTS_FILE,
    REJECT_COLUMNS,
    REJECTS_FILE,
    LookupEntry,
    Manifest,
    PartEntry,
    SourceSummary,
    StepEntry,
    write_manifest,
)
from migrator.model import ObjectSpec, Plan
from migrator.sources import resolve_source
from migrator.transform import LookupColumn, StepLayout, compile_step, transform_chunk

Event = Callable[[str, Mapping[str, object]], None]


@dataclass(frozen=True)
class PlanOptions:
    out_dir: Path
    strict: bool = False
    block_bytes: int = DEFAULT_BLOCK_BYTES
    # Only these rows of each step are written and reported (a retry); all rows still count as
    # parents and as keys already used, so checks give the same answers as in the full plan.
    selection: Mapping[str, RowSelection] | None = None


@dataclass(frozen=True)
class RowSelection:
    keys: frozenset[str]                    # key values, lower case
    positions: frozenset[tuple[str, str]]   # (source file, source row)

    def mask(self, files: pd.Series, lines: pd.Series, keys: pd.Series) -> pd.Series:
        wanted = {f"{f}\x1f{r}" for f, r in self.positions}
        where = (files.astype("str") + "\x1f" + lines.astype("str")).isin(wanted)
        return where | keys.astype("str").str.lower().isin(self.keys)


@dataclass
class _Stats:
    files: list[str] = field(default_factory=list)
    source_rows: int = 0
    filtered: int = 0
    rejected: int = 0
    rows: int = 0
    deferred_rows: int = 0
    levels: int = 1
    missing: Counter = field(default_factory=Counter)


@dataclass
class _Chunk:
    """Transformed rows of one source chunk with where each row came from."""

    rows: pd.DataFrame
    files: pd.Series
    lines: pd.Series
    chosen: pd.Series | None = None  # by source position: rows a retry selects (None: all)

    def with_rows(self, rows: pd.DataFrame) -> _Chunk:
        return replace(self, rows=rows)

    def chosen_positions(self, positions: pd.Index) -> pd.Index:
        return positions if self.chosen is None else positions[self.chosen.loc[positions].to_numpy()]

    def only_chosen(self) -> _Chunk:
        if self.chosen is None:
            return self
        return self.with_rows(self.rows[self.chosen.loc[self.rows.index].to_numpy()])


def _norm(name: str) -> str:
    return name.lower()


def resolve_lookup_keys(plan: Plan) -> dict[str, dict[tuple[str, str], str]]:
    """For each step, the parent key field of each (lookup field, target object)."""
    problems: list[Problem] = []
    keys: dict[str, dict[tuple[str, str], str]] = {}
    for step in plan.objects:
        mine: dict[tuple[str, str], str] = {}
        for lookup in step.lookups:
            for target in lookup.targets:
                key = lookup.key or next(
                    (s.external_id for s in plan.objects if s.object == target and s.external_id), None
                )
                if key is None:
                    loc = lookup.location
                    problems.append(
                        Problem(
                            f"no key to find {target} parents by: set `key`, or give a {target} step an external_id",
                            loc.file,
                            loc.line,
                            loc.path,
                        )
                    )
                    key = "Id"
                mine[(lookup.field, target)] = key
        keys[step.name] = mine
    if problems:
        raise PlanError(problems)
    return keys


class _Compiler:
    def __init__(self, plan: Plan, options: PlanOptions, staging: Path, on_event: Event):
        self.plan, self.options, self.staging, self.emit = plan, options, staging, on_event
        self.order: LoadOrder = build_load_order(plan)
        lookup_keys = resolve_lookup_keys(plan)
        self.layouts = {s.name: compile_step(s, lookup_keys[s.name]) for s in plan.objects}
        self.variables = dict(plan.variables)
        # (object, key field) pairs some lookup resolves parents by -> keys seen so far
        self.registry: dict[tuple[str, str], KeySet] = {}
        for layout in self.layouts.values():
            for col in layout.lookup_columns:
                if not col.lookup.existing:
                    self.registry.setdefault((_norm(col.target), _norm(col.key)), KeySet())
        self.rejects = TableAppender(staging / REJECTS_FILE, REJECT_COLUMNS)
        self.missing = TableAppender(staging / MISSING_PARENTS_FILE, MISSING_PARENT_COLUMNS)
        self.stats: dict[str, _Stats] = {s.name: _Stats() for s in plan.objects}
        self.writers: dict[str, PartWriter] = {}
        self.seen: dict[str, KeySet] = {}  # keys already sent by each step
        self.pass2: dict[str, _Spill] = {}  # pass-2 rows parked until all parents are known
        self.pass2_rows: dict[str, int] = {}

    # --- helpers -------------------------------------------------------------------------------

    def _display(self, path: Path) -> str:
        base = self.plan.file.parent.resolve() if self.plan.file.parent else Path.cwd()
        try:
            return path.resolve().relative_to(base).as_posix()
        except ValueError:
            return path.as_posix()

    def _key_text(self, layout: StepLayout, rows: pd.DataFrame) -> pd.Series:
        header = layout.key_header
        if header and header in rows:
            return rows[header]
        return pd.Series("", index=rows.index, dtype="str")

    def _reject(
        self,
        spec: ObjectSpec,
        chunk: _Chunk,
        positions: pd.Index,
        field_name: pd.Series | str,
        value: pd.Series | str,
        reason: pd.Series | str,
        key: pd.Series | str = "",
    ) -> None:
        """Record rows refused before sending; `positions` index into the chunk's source rows."""
        positions = chunk.chosen_positions(positions)
        if len(positions) == 0:
            return

        def pick(item: pd.Series | str) -> object:
            return item.loc[positions].astype(str).to_numpy() if isinstance(item, pd.Series) else item

        self.rejects.append(
            pd.DataFrame(
                {
                    "step": spec.name,
                    "object": spec.object,
                    "source_file": pick(chunk.files),
                    "source_row": pick(chunk.lines),
                    "key": pick(key),
                    "field": pick(field_name),
                    "value": pick(value),
                    "reason": pick(reason),
                },
                index=positions,
            )
        )
        self.stats[spec.name].rejected += len(positions)

    def _writer(self, node_id: str, columns: list[str], spec: ObjectSpec) -> PartWriter:
        if node_id not in self.writers:
            folder = self.staging / node_id.replace(":", ".")
            self.writers[node_id] = PartWriter(folder, columns, max_rows=spec.part_rows, max_bytes=spec.part_bytes)
        return self.writers[node_id]

    # --- reading and per-chunk checks ---------------------------------------------------------

    def _chunks(self, spec: ObjectSpec) -> Iterator[_Chunk]:
        layout = self.layouts[spec.name]
        stats = self.stats[spec.name]
        files = resolve_source(self.plan.sources_dir, spec.source)
        if not files:
            raise UsageError(
                f"{spec.location}: {spec.name}: no source file matches {spec.source.pattern!r} "
                f"in {self.plan.sources_dir}"
            )
        for path in files:
            display = self._display(path)
            stats.files.append(display)
            for source in read_source(
                path,
                display,
                encoding=spec.source.encoding,
                delimiter=spec.source.delimiter,
                block_bytes=self.options.block_bytes,
            ):
                selection = (self.options.selection or {}).get(spec.name) if self.options.selection else None
                if source.invalid:
                    bad = _Chunk(
                        rows=pd.DataFrame(),
                        files=pd.Series([r.file for r in source.invalid]),
                        lines=pd.Series([r.row for r in source.invalid]),
                    )
                    if self.options.selection is not None:
                        empty_keys = pd.Series("", index=bad.files.index, dtype="str")
                        bad = replace(bad, chosen=selection.mask(bad.files, bad.lines, empty_keys)
                                      if selection else pd.Series(False, index=bad.files.index))
                    stats.source_rows += len(bad.chosen_positions(bad.files.index))
                    self._reject(
                        spec,
                        bad,
                        bad.files.index,
                        "",
                        pd.Series([r.text for r in source.invalid]),
                        pd.Series([r.reason for r in source.invalid]),
                    )
                if source.frame.empty:
                    continue
                frame = source.frame
                result = transform_chunk(frame, layout, self.variables)
                chunk = _Chunk(
                    rows=result.rows,
                    files=pd.Series(display, index=frame.index, dtype="str"),
                    lines=pd.Series(source.rows, index=frame.index),
                )
                if self.options.selection is not None:
                    keys = self._key_of_rejects(layout, frame, frame.index)
                    chosen = (selection.mask(chunk.files, chunk.lines, keys) if selection
                              else pd.Series(False, index=frame.index))
                    chunk = replace(chunk, chosen=chosen)
                    passed = result.rows.index.union(result.rejects.index)
                    stats.source_rows += int(chosen.sum())
                    stats.filtered += int(chosen.sum() - chosen.loc[passed].sum())
                else:
                    stats.source_rows += len(frame)
                    stats.filtered += result.filtered
                if not result.rejects.empty:
                    all_rows = frame.index[frame.index.isin(result.rejects.index)]
                    keys = self._key_of_rejects(layout, frame, result.rejects.index)
                    self._reject(
                        spec,
                        chunk,
                        all_rows,
                        result.rejects["field"],
                        result.rejects["value"],
                        result.rejects["reason"],
                        keys,
                    )
                chunk = self._check_keys(spec, layout, chunk)
                chunk = self._check_parents(spec, layout, chunk)
                self.emit("chunk", {"step": spec.name, "rows": len(frame)})
                yield chunk

    def _key_of_rejects(self, layout: StepLayout, frame: pd.DataFrame, positions: pd.Index) -> pd.Series:
        spec = layout.spec
        column = (
            spec.id_source
            if layout.key_header == "Id"
            else (
                spec.field_spec(layout.key_header).source
                if layout.key_header and spec.field_spec(layout.key_header)
                else None
            )
        )
        if column and column in frame:
            return frame.loc[positions, column].astype("str").str.strip()
        return pd.Series("", index=positions, dtype="str")

    def _check_keys(self, spec: ObjectSpec, layout: StepLayout, chunk: _Chunk) -> _Chunk:
        """Blank keys where Salesforce needs one, and keys repeated within the step, become rejects."""
        header = layout.key_header
        if not header or chunk.rows.empty:
            return chunk
        keys = chunk.rows[header]
        needs_key = spec.operation in ("upsert", "update", "delete", "hardDelete")
        blank = (keys == "") & needs_key
        if blank.any():
            self._reject(spec, chunk, keys.index[blank.to_numpy()], header, "", f"{header} is blank")
        present = keys[(keys != "").to_numpy()]
        seen = self.seen.setdefault(spec.name, KeySet())
        hashes = key_hashes(present)
        first = first_occurrences(hashes, seen)
        seen.add(hashes[first])
        dupes = present.index[~first]
        self._reject(spec, chunk, dupes, header, present, f"duplicate {header}: an earlier row has the same key", keys)
        drop = keys.index[blank.to_numpy()].union(dupes)
        return self._without(chunk, drop)

    @staticmethod
    def _without(chunk: _Chunk, drop: pd.Index) -> _Chunk:
        if len(drop) == 0:
            return chunk
        return chunk.with_rows(chunk.rows.drop(index=drop))

    def _parent_checks(self, spec: ObjectSpec, *, deferred: bool) -> list[LookupColumn]:
        layout = self.layouts[spec.name]
        self_lookups = self.order.hierarchical.get(spec.name, ())
        return [
            c
            for c in layout.lookup_columns
            if not c.lookup.existing
            and c.lookup not in self_lookups
            and self.order.is_deferred(spec.name, c.lookup) == deferred
        ]

    def _missing_mask(self, column: LookupColumn, values: pd.Series) -> pd.Series:
        registry = self.registry.get((_norm(column.target), _norm(column.key)))
        present = values != ""
        if registry is None or not present.any():
            return pd.Series(False, index=values.index)
        found = registry.contains(key_hashes(values[present]))
        missing = pd.Series(False, index=values.index)
        missing[present[present].index[~found]] = True
        return missing

    def _apply_missing(
        self, spec: ObjectSpec, chunk: _Chunk, column: LookupColumn, mask: pd.Series, keys: pd.Series
    ) -> _Chunk:
        """Report rows whose parent is not in the data, then send, blank or reject them per the lookup's
        `missing` policy (`--strict` turns `send` into `reject`)."""
        positions = mask[mask].index
        if len(positions) == 0:
            return chunk
        values = chunk.rows[column.header]
        reported = chunk.chosen_positions(positions)
        self.stats[spec.name].missing[column.lookup.field] += len(reported)
        self.missing.append(
            pd.DataFrame(
                {
                    "step": spec.name,
                    "object": spec.object,
                    "source_file": chunk.files.loc[reported].to_numpy(),
                    "source_row": chunk.lines.loc[reported].astype(str).to_numpy(),
                    "key": keys.loc[reported].to_numpy(),
                    "field": column.lookup.field,
                    "parent_object": column.target,
                    "parent_key_field": column.key,
                    "parent_key": values.loc[reported].to_numpy(),
                }
            )
        )
        policy = column.lookup.missing
        if policy == "send" and self.options.strict:
            policy = "reject"
        if policy == "reject":
            why = "--strict" if column.lookup.missing == "send" else "missing: reject"
            self._reject(
                spec,
                chunk,
                positions,
                column.lookup.field,
                values,
                f"parent {column.target} with {column.key} = this value is not in the source data ({why})",
                keys,
            )
            return self._without(chunk, positions)
        if policy == "blank":
            blanked = values.copy()
            blanked.loc[positions] = ""
            return chunk.with_rows(chunk.rows.assign(**{column.header: blanked}))
        return chunk

    def _check_parents(self, spec: ObjectSpec, layout: StepLayout, chunk: _Chunk) -> _Chunk:
        keys = self._key_text(layout, chunk.rows)
        for column in self._parent_checks(spec, deferred=False):
            chunk = self._apply_missing(
                spec, chunk, column, self._missing_mask(column, chunk.rows[column.header]), keys
            )
        return chunk

    def _register(self, spec: ObjectSpec, rows: pd.DataFrame) -> None:
        for (obj, key), keyset in self.registry.items():
            if obj != _norm(spec.object):
                continue
            header = next((c for c in rows.columns if _norm(c) == key), None)
            if header is not None:
                values = rows[header]
                keyset.add(key_hashes(values[(values != "").to_numpy()]))

    # --- steps -------------------------------------------------------------------------------

    def _deferred_headers(self, spec: ObjectSpec) -> list[str]:
        layout = self.layouts[spec.name]
        return [c.header for c in layout.lookup_columns if self.order.is_deferred(spec.name, c.lookup)]

    def _self_headers(self, spec: ObjectSpec) -> list[str]:
        layout = self.layouts[spec.name]
        return [
            c.header
            for lk in self.order.hierarchical.get(spec.name, ())
            for c in layout.lookup_columns
            if c.lookup is lk
        ]

    def _pass2_columns(self, spec: ObjectSpec) -> list[str]:
        key = self.layouts[spec.name].key_header
        return [key, *self._deferred_headers(spec), *self._self_headers(spec)] if key else []

    def compile_step(self, spec: ObjectSpec) -> None:
        self.emit("step_started", {"step": spec.name})
        layout = self.layouts[spec.name]
        deferred = set(self._deferred_headers(spec))
        pass1_columns = [c for c in layout.columns if c not in deferred]
        if spec.name not in self.order.hierarchical:
            for chunk in self._chunks(spec):
                self._register(spec, chunk.rows)
                chunk = chunk.only_chosen()
                self._park_pass2(spec, chunk, None)
                self._write_pass1(spec.name, spec, chunk, pass1_columns)
        else:
            spill = _Spill(self.staging / f".{spec.name}.spill.arrow")
            keys: list[np.ndarray] = []
            parents: list[list[tuple[np.ndarray, np.ndarray]]] = []
            for chunk in self._chunks(spec):
                self._register(spec, chunk.rows)
                spill.write(chunk)
                keys.append(key_hashes(self._key_text(layout, chunk.rows)))
                parents.append(
                    [(key_hashes(chunk.rows[h]), (chunk.rows[h] != "").to_numpy()) for h in self._self_headers(spec)]
                )
            spill.close()
            self._write_levels(spec, spill, keys, parents, pass1_columns)
        self.emit("step_done", {"step": spec.name, "rows": self.stats[spec.name].rows})

    def _write_pass1(self, node_id: str, spec: ObjectSpec, chunk: _Chunk, columns: list[str]) -> None:
        rows = chunk.rows
        self._writer(node_id, columns, spec).write(rows, chunk.files.loc[rows.index], chunk.lines.loc[rows.index])
        self.stats[spec.name].rows += len(rows)

    def _park_pass2(self, spec: ObjectSpec, chunk: _Chunk, self_deferred: np.ndarray | None) -> None:
        """Rows with a deferred lookup (or a self-reference deferred by a data cycle) get a pass-2 row:
        the key plus only those lookups; other columns are blank, which leaves them unchanged."""
        columns = self._pass2_columns(spec)
        deferred = self._deferred_headers(spec)
        if not columns or (not deferred and self_deferred is None):
            return
        rows = chunk.rows
        wanted = np.zeros(len(rows), dtype=bool) if self_deferred is None else self_deferred.copy()
        for header in deferred:
            wanted |= (rows[header] != "").to_numpy()
        if not wanted.any():
            return
        picked = rows[wanted]
        keep_self = self_deferred[wanted] if self_deferred is not None else np.zeros(len(picked), dtype=bool)
        blanked = {
            h: pd.Series(np.where(keep_self, picked[h], ""), index=picked.index, dtype="str")
            for h in self._self_headers(spec)
        }
        self.pass2.setdefault(spec.name, _Spill(self.staging / f".{spec.name}.pass2.arrow")).write(
            chunk.with_rows(picked.assign(**blanked)[columns])
        )

    def _write_levels(
        self,
        spec: ObjectSpec,
        spill: _Spill,
        keys: list[np.ndarray],
        parents: list[list[tuple[np.ndarray, np.ndarray]]],
        columns: list[str],
    ) -> None:
        """Second pass over a hierarchical step: route each row to its level's part."""
        layout = self.layouts[spec.name]
        self_columns = [c for lk in self.order.hierarchical[spec.name] for c in layout.lookup_columns if c.lookup is lk]
        width = len(self_columns)
        all_keys = np.concatenate(keys) if keys else np.array([], dtype=np.uint64)
        parent_keys = [np.concatenate([p[i][0] for p in parents]) if parents else all_keys for i in range(width)]
        present = [np.concatenate([p[i][1] for p in parents]) if parents else np.zeros(0, bool) for i in range(width)]
        levels = hierarchy.compute_levels(all_keys, parent_keys, present)
        stats = self.stats[spec.name]
        stats.levels = levels.count
        stats.deferred_rows += int(levels.deferred.sum())
        offset = 0
        for chunk in spill.read():
            span = slice(offset, offset + len(chunk.rows))
            offset += len(chunk.rows)
            level, deferred, missing = levels.level[span], levels.deferred[span], levels.missing_parent[span]
            before = chunk.rows.index
            chunk = self._report_self_missing(spec, layout, chunk, self_columns, missing)
            kept = chunk.rows.index
            if len(kept) != len(before):  # rows whose parent is missing were rejected
                keep = before.isin(kept)
                level, deferred = level[keep], deferred[keep]
            if chunk.chosen is not None:  # a retry: only the selected rows are written
                keep = chunk.chosen.loc[kept].to_numpy()
                chunk, level, deferred = chunk.with_rows(chunk.rows[keep]), level[keep], deferred[keep]
                kept = chunk.rows.index
            self._park_pass2(spec, chunk, deferred)
            rows = chunk.rows.assign(
                **{
                    c.header: pd.Series(np.where(deferred, "", chunk.rows[c.header]), index=kept, dtype="str")
                    for c in self_columns
                }
            )
            for value in np.unique(level):
                part = chunk.with_rows(rows[level == value])
                self._write_pass1(f"{spec.name}:L{value}", spec, part, columns)
        spill.path.unlink(missing_ok=True)

    def _report_self_missing(
        self,
        spec: ObjectSpec,
        layout: StepLayout,
        chunk: _Chunk,
        self_columns: list[LookupColumn],
        missing: np.ndarray,
    ) -> _Chunk:
        """Rows naming a parent that is not in the step's own data (self-lookups)."""
        if not missing.any():
            return chunk
        keys = self._key_text(layout, chunk.rows)
        flags = pd.Series(missing, index=chunk.rows.index)
        for column in self_columns:
            mask = flags.reindex(chunk.rows.index) & (chunk.rows[column.header] != "")
            chunk = self._apply_missing(spec, chunk, column, mask, keys)
        return chunk

    def finish_pass2(self) -> None:
        """Write pass-2 parts, now that every parent key of every deferred lookup is known."""
        for name, spill in self.pass2.items():
            spill.close()
            spec = self.plan.step(name)
            assert spec is not None
            columns = self._pass2_columns(spec)
            for chunk in spill.read():
                keys = chunk.rows[columns[0]]
                dropped = pd.Index([])
                for column in self._parent_checks(spec, deferred=True):
                    values = chunk.rows[column.header]
                    dropped = dropped.union(
                        self._report_missing(spec, chunk, column, values, self._missing_mask(column, values), keys)
                    )
                if self.options.strict:
                    chunk = self._without(chunk, dropped)
                self._writer(f"{name}:pass2", columns, spec).write(
                    chunk.rows, chunk.files.loc[chunk.rows.index], chunk.lines.loc[chunk.rows.index]
                )
                self.pass2_rows[name] = self.pass2_rows.get(name, 0) + len(chunk.rows)
            spill.path.unlink(missing_ok=True)


class _Spill:
    """Transformed rows parked in an Arrow IPC file between the two passes over a step."""

    def __init__(self, path: Path):
        self.path = path
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, chunk: _Chunk) -> None:
        rows = chunk.rows
        chosen = chunk.chosen.loc[rows.index].to_numpy() if chunk.chosen is not None else np.ones(len(rows), bool)
        frame = rows.assign(__file=chunk.files.loc[rows.index].to_numpy(), __row=chunk.lines.loc[rows.index].to_numpy(),
                            __chosen=chosen)
        table = pa.Table.from_pandas(frame.astype({c: "str" for c in rows.columns}), preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pa.ipc.new_file(self.path, table.schema)
        self._writer.write_table(table.cast(self._schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def read(self) -> Iterator[_Chunk]:
        if not self.path.exists():
            return
        with pa.memory_map(str(self.path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                frame = reader.get_batch(i).to_pandas()
                files, lines, chosen = frame.pop("__file"), frame.pop("__row"), frame.pop("__chosen")
                yield _Chunk(rows=frame.astype("str"), files=files.astype("str"), lines=lines,
                             chosen=None if chosen.all() else chosen.astype(bool))


def _parts(writer: PartWriter | None, out_dir: Path) -> tuple[PartEntry, ...]:
    parts: list[PartInfo] = writer.close() if writer else []
    return tuple(
        PartEntry(
            path=p.path.relative_to(out_dir).as_posix(),
            rows=p.rows,
            bytes=p.bytes,
            sha256=p.sha256,
            source_index=p.path.with_suffix(".source.csv").relative_to(out_dir).as_posix(),
        )
        for p in parts
    )


def _lookup_entries(compiler: _Compiler, spec: ObjectSpec) -> tuple[LookupEntry, ...]:
    layout = compiler.layouts[spec.name]
    entries = []
    for lookup in spec.lookups:
        columns = [c for c in layout.lookup_columns if c.lookup is lookup]
        if lookup.existing:
            mode = "existing"
        elif compiler.order.is_deferred(spec.name, lookup):
            mode = "pass2"
        elif lookup in compiler.order.hierarchical.get(spec.name, ()):
            mode = "levels"
        else:
            mode = "pass1"
        entries.append(
            LookupEntry(
                field=lookup.field,
                headers=tuple(c.header for c in columns),
                targets=lookup.targets,
                key=columns[0].key if columns else "",
                mode=mode,
            )
        )
    return tuple(entries)


def _manifest(compiler: _Compiler, nodes: tuple[StepNode, ...], staging: Path) -> Manifest:
    plan = compiler.plan
    steps = []
    for node in nodes:
        spec = plan.step(node.step)
        assert spec is not None
        layout = compiler.layouts[spec.name]
        writer = compiler.writers.get(node.id)
        parts = _parts(writer, staging)
        if node.pass_no == 2:
            operation = "upsert" if spec.external_id and spec.field_spec(spec.external_id) else "update"
            external_id = spec.external_id if operation == "upsert" else None
            columns = tuple(compiler._pass2_columns(spec))
        else:
            operation, external_id = spec.operation, spec.external_id if spec.operation == "upsert" else None
            deferred = set(compiler._deferred_headers(spec))
            columns = tuple(c for c in layout.columns if c not in deferred)
        steps.append(
            StepEntry(
                id=node.id,
                step=node.step,
                object=node.object,
                operation=operation,
                external_id=external_id,
                key_column=layout.key_header,
                api=spec.api,
                concurrency=spec.concurrency,
                pass_no=node.pass_no,
                level=node.level,
                wave=node.wave,
                depends_on=node.depends_on,
                columns=columns,
                parts=parts,
                rows=sum(p.rows for p in parts),
            )
        )
    sources = []
    for spec in plan.objects:
        st = compiler.stats[spec.name]
        sources.append(
            SourceSummary(
                step=spec.name,
                object=spec.object,
                files=tuple(st.files),
                source_rows=st.source_rows,
                filtered=st.filtered,
                rejected=st.rejected,
                rows=st.rows,
                missing_parents=dict(sorted(st.missing.items())),
                deferred_rows=st.deferred_rows,
                levels=st.levels,
                lookups=_lookup_entries(compiler, spec),
            )
        )
    return Manifest(
        plan_name=plan.name,
        plan_file=plan.file.as_posix(),
        plan_checksum=plan.checksum,
        description=plan.description,
        strict=compiler.options.strict,
        steps=tuple(steps),
        sources=tuple(sources),
        rejects=compiler.rejects.rows,
        missing_parents=compiler.missing.rows,
        variables=dict(plan.variables),
    )


def compile_plan(plan: Plan, options: PlanOptions, on_event: Event | None = None) -> Manifest:
    """Compile `plan` into `options.out_dir` (replaced atomically; a failed compile leaves it as it was)."""
    out_dir = options.out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_FILE).exists():
        raise UsageError(f"{out_dir} is not empty and holds no compiled plan; choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        compiler = _Compiler(plan, options, staging, on_event or (lambda kind, data: None))
        for name in compiler.order.processing_order:
            spec = plan.step(name)
            assert spec is not None
            compiler.compile_step(spec)
        compiler.finish_pass2()
        levels = {name: compiler.stats[name].levels for name in compiler.order.hierarchical}
        pass2 = [name for name, rows in compiler.pass2_rows.items() if rows > 0]
        nodes = expand_steps(compiler.order, levels, pass2)
        manifest = _manifest(compiler, nodes, staging)
        write_manifest(manifest, staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
        return manifest
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
