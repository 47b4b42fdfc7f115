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

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from migrator.compile import hierarchy
from migrator.compile.binary_files import REST_SUFFIX, FileResolver, FileStats, goes_by_rest
from migrator.compile.csvio import PartWriter
from migrator.compile.csvread import DEFAULT_BLOCK_BYTES, SourceChunk, SourceWarning
from migrator.compile.fakeinputs import FakeInputs
from migrator.compile.field_rules import StepRules
from migrator.compile.graph import LoadOrder, StepNode, build_load_order, expand_steps
from migrator.compile.keys import KeySet, first_occurrences, key_hashes
from migrator.compile.lockparts import LockAwareWriter
from migrator.compile.manifest import (
    MANIFEST_FILE,
    MAX_WARNINGS,
    Manifest,
    PartEntry,
    SourceSummary,
    StepEntry,
    write_manifest,
)
from migrator.compile.readers import ReadContext, SourceReader, open_readers
from migrator.compile.readers.base import Database
from migrator.compile.readers.generated import GeneratedReader
from migrator.compile.refusals import Refusals, StepStats
from migrator.compile.refused_parents import RefusedParents
from migrator.compile.rowchunks import RowChunk, Spill
from migrator.compile.stepshape import StepShape
from migrator.compile.transform import LookupColumn, StepLayout, compile_step, transform_chunk
from migrator.errors import PlanError, Problem, UsageError
from migrator.fake.masks import MaskKey
from migrator.plan.model import ObjectSpec, Plan

Event = Callable[[str, Mapping[str, object]], None]


@dataclass(frozen=True)
class RowSelection:
    """Rows a retry sends again: by key (lower case) or by (source file, source row)."""

    keys: frozenset[str]
    positions: frozenset[tuple[str, str]]

    def mask(self, files: pd.Series, lines: pd.Series, keys: pd.Series) -> pd.Series:
        wanted = {f"{f}\x1f{r}" for f, r in self.positions}
        where = (files.astype("str") + "\x1f" + lines.astype("str")).isin(wanted)
        return where | keys.astype("str").str.lower().isin(self.keys)


@dataclass(frozen=True)
class PlanOptions:
    out_dir: Path
    strict: bool = False
    block_bytes: int = DEFAULT_BLOCK_BYTES
    # Only these rows of each step are written and reported (a retry); all rows still count as
    # parents and as keys already used, so checks give the same answers as in the full plan.
    selection: Mapping[str, RowSelection] | None = None
    # Pass-1 rows are ordered by parent and cut on parent boundaries into about this many parts per
    # step (the run's concurrency), so parallel jobs do not lock the same parents (lockparts.py).
    parallel_parts: int = 4
    lock_order: bool = True  # False: input order, still cut into about `parallel_parts` parts
    # What the target accepts, per step name (from its describe): broken rules make rejects.
    rules: Mapping[str, StepRules] | None = None
    scale: int = 1  # --scale: generated sources without `per` make this many times their count
    mask_key: MaskKey | None = field(default=None, repr=False)  # the masking secret, never written anywhere
    # The databases SQL sources name, as the configuration resolved them (with their passwords).
    databases: Mapping[str, Database] = field(default_factory=dict)


def resolve_lookup_keys(plan: Plan) -> dict[str, dict[tuple[str, str], str]]:
    """For each step, the parent key field of each (lookup field, target object)."""
    problems: list[Problem] = []
    keys: dict[str, dict[tuple[str, str], str]] = {}
    for step in plan.objects:
        mine: dict[tuple[str, str], str] = {}
        for lookup in step.lookups:
            for target in lookup.targets:
                key = lookup.key or next((s.external_id for s in plan.objects
                                          if s.object == target and s.external_id), None)
                if key is None:
                    loc = lookup.location
                    problems.append(Problem(f"no key to find {target} parents by: set `key`, or give a {target} "
                                            "step an external_id", loc.file, loc.line, loc.path))
                    key = "Id"
                mine[(lookup.field, target)] = key
        keys[step.name] = mine
    if problems:
        raise PlanError(problems)
    return keys


def _text(rows: pd.DataFrame, header: str | None) -> pd.Series:
    return rows[header] if header and header in rows else pd.Series("", index=rows.index, dtype="str")


class _Compiler:
    def __init__(self, plan: Plan, options: PlanOptions, staging: Path, on_event: Event):
        self.plan, self.options, self.staging, self.emit = plan, options, staging, on_event
        self.order: LoadOrder = build_load_order(plan)
        lookup_keys = resolve_lookup_keys(plan)
        rules = options.rules or {}
        self.fake = FakeInputs(plan, scale=options.scale, mask_key=options.mask_key)
        self.files = FileResolver(plan.files_dir or plan.sources_dir, plan.roots)
        self.files.shown = self._files_dir()
        self.file_fields = {s.name: [f.name for f in s.fields if f.file] for s in plan.objects}
        self.file_stats = {name: FileStats() for name, fields in self.file_fields.items() if fields}
        self.shapes = {s.name: StepShape(replace(compile_step(s, lookup_keys[s.name], rules.get(s.name)),
                                                 masks=self.fake.masks(s.name)), self.order) for s in plan.objects}
        self.stats = {s.name: StepStats() for s in plan.objects}
        # (object, key field) pairs some lookup finds parents by -> the keys seen so far
        self.registry = {(c.target.lower(), c.key.lower()): KeySet() for shape in self.shapes.values()
                         for c in shape.layout.lookup_columns if not c.lookup.existing}
        self.parents = RefusedParents(self.registry, {name: (shape.layout.spec.object, shape.layout.key_header)
                                                      for name, shape in self.shapes.items()})
        self.refusals = Refusals(staging, self.stats, self.parents, strict=options.strict)
        self.seen: dict[str, KeySet] = {}     # keys already sent by each step
        self.writers: dict[str, PartWriter | LockAwareWriter] = {}
        self.cuts: dict[str, list[str]] = {}  # parents' space -> keys where steps naming them are cut
        self.pass2: dict[str, Spill] = {}     # pass-2 rows, parked until every parent key is known
        self.pass2_rows: dict[str, int] = {}
        self.warnings: list[SourceWarning] = []  # the first MAX_WARNINGS source warnings
        self.warning_count = 0

    # --- reading ---------------------------------------------------------------------------------

    def _chunks(self, spec: ObjectSpec) -> Iterator[RowChunk]:
        for source in self._read(spec):
            self._reject_unreadable(spec, source)
            self._warn(source.warnings)
            if not source.frame.empty:
                chunk = self._transform(spec, source, source.file)
                chunk = self._check_files(spec, chunk)
                chunk = self._check_keys(spec, chunk)
                chunk = self._check_parents(spec, chunk)
                self.emit("chunk", {"step": spec.name, "rows": len(source.frame)})
                yield chunk

    def _readers(self, spec: ObjectSpec) -> list[SourceReader]:
        """What the step's source names: its files, its database, or its generated rows."""
        if spec.source.generate is not None:
            generation, step = self.fake.generation, spec.name
            return [GeneratedReader(spec.source.pattern, tuple(spec.source.generate.column_names),
                                    lambda: generation.chunks(step))]
        context = ReadContext(sources_dir=self.plan.sources_dir, roots=self.plan.roots,
                              databases=self.options.databases, block_bytes=self.options.block_bytes,
                              names_from=self.plan.file.parent.resolve())
        readers = open_readers(spec.source, context)
        if not readers:
            raise UsageError(f"{spec.location}: {spec.name}: no source file matches {spec.source.label!r} "
                             f"in {self.plan.sources_dir}")
        return readers

    def _read(self, spec: ObjectSpec) -> Iterator[SourceChunk]:
        """The step's source rows in chunks, whatever their kind (see `compile.readers`)."""
        for reader in self._readers(spec):
            self.stats[spec.name].files.append(reader.name)
            yield from reader.chunks()

    def _warn(self, warnings: tuple[SourceWarning, ...]) -> None:
        self.warning_count += len(warnings)
        self.warnings += warnings[:max(0, MAX_WARNINGS - len(self.warnings))]

    def _selection(self, spec: ObjectSpec, files: pd.Series, lines: pd.Series, keys: pd.Series) -> pd.Series | None:
        if self.options.selection is None:
            return None
        selection = self.options.selection.get(spec.name)
        return selection.mask(files, lines, keys) if selection else pd.Series(False, index=files.index)

    def _reject_unreadable(self, spec: ObjectSpec, source: SourceChunk) -> None:
        """Source lines with the wrong number of fields: rejected with their text."""
        if not source.invalid:
            return
        files = pd.Series([r.file for r in source.invalid], dtype="str")
        lines = pd.Series([r.line for r in source.invalid])
        chosen = self._selection(spec, files, lines, pd.Series("", index=files.index, dtype="str"))
        bad = RowChunk(rows=pd.DataFrame(), files=files, lines=lines, chosen=chosen)
        self.stats[spec.name].source_rows += len(bad.chosen_positions(files.index))
        self.refusals.reject(spec, bad, files.index, "", pd.Series([r.text for r in source.invalid]),
                             pd.Series([r.reason for r in source.invalid]))

    def _transform(self, spec: ObjectSpec, source: SourceChunk, display: str) -> RowChunk:
        layout = self.shapes[spec.name].layout
        frame, stats = source.frame, self.stats[spec.name]
        result = transform_chunk(frame, layout, dict(self.plan.variables))
        chunk = RowChunk(rows=result.rows, files=pd.Series(display, index=frame.index, dtype="str"),
                         lines=pd.Series(source.lines, index=frame.index))
        source_keys = self._source_keys(layout, frame)
        chosen = self._selection(spec, chunk.files, chunk.lines, source_keys)
        passed = result.rows.index.union(result.rejects.index)
        if result.filtered:
            self.parents.filtered(spec.name, source_keys.loc[frame.index.difference(passed)])
        if chosen is None:
            stats.source_rows += len(frame)
            stats.filtered += result.filtered
        else:
            chunk = replace(chunk, chosen=chosen)
            stats.source_rows += int(chosen.sum())
            stats.filtered += int(chosen.sum() - chosen.loc[passed].sum())
        if not result.rejects.empty:
            positions = result.rejects.index
            self.refusals.reject(spec, chunk, positions, result.rejects["field"], result.rejects["value"],
                                 result.rejects["reason"], source_keys.loc[positions])
        return chunk

    @staticmethod
    def _source_keys(layout: StepLayout, frame: pd.DataFrame) -> pd.Series:
        """The key of every source row as written in the source (rejected rows have no output row)."""
        spec = layout.spec
        if layout.key_header == "Id":
            column = spec.id_source
        else:
            field_spec = spec.field_spec(layout.key_header) if layout.key_header else None
            column = field_spec.source if field_spec else None
        if column and column in frame:
            return frame[column].astype("str").str.strip()
        return pd.Series("", index=frame.index, dtype="str")

    # --- checks that need more than one row -------------------------------------------------

    def _check_keys(self, spec: ObjectSpec, chunk: RowChunk) -> RowChunk:
        """Blank keys where Salesforce needs one, and keys repeated within the step, become rejects."""
        header = self.shapes[spec.name].layout.key_header
        if not header or chunk.rows.empty:
            return chunk
        keys = chunk.rows[header]
        blank = (keys == "").to_numpy() & (spec.operation in ("upsert", "update", "delete", "hardDelete"))
        self.refusals.reject(spec, chunk, keys.index[blank], header, "", f"{header} is blank")
        present = keys[(keys != "").to_numpy()]
        seen = self.seen.setdefault(spec.name, KeySet())
        hashes = key_hashes(present)
        first = first_occurrences(hashes, seen)
        seen.add(hashes[first])
        dupes = present.index[~first]
        why = f"duplicate {header}: an earlier row has the same key"
        self.refusals.reject(spec, chunk, dupes, header, present, why, keys)
        return chunk.without(keys.index[blank].union(dupes))

    def _missing_mask(self, column: LookupColumn, values: pd.Series) -> pd.Series:
        registry = self.registry.get((column.target.lower(), column.key.lower()))
        present = (values != "").to_numpy()
        missing = np.zeros(len(values), dtype=bool)
        if registry is not None and present.any():
            missing[present] = ~registry.contains(key_hashes(values[present]))
        return pd.Series(missing, index=values.index)

    def _check_parents(self, spec: ObjectSpec, chunk: RowChunk, *, deferred: bool = False) -> RowChunk:
        shape = self.shapes[spec.name]
        keys = _text(chunk.rows, shape.layout.key_header)
        for column in shape.parent_checks(deferred=deferred):
            mask = self._missing_mask(column, chunk.rows[column.header])
            chunk = self.refusals.missing_parents(spec, chunk, column, mask, keys)
        return chunk

    def _register(self, spec: ObjectSpec, rows: pd.DataFrame) -> None:
        """Remember this step's keys for every key field children find their parents by."""
        for (obj, key), keyset in self.registry.items():
            header = next((c for c in rows.columns if c.lower() == key), None) if obj == spec.object.lower() else None
            if header is not None:
                values = rows[header]
                keyset.add(key_hashes(values[(values != "").to_numpy()]))

    # --- writing ---------------------------------------------------------------------------------

    def compile_step(self, spec: ObjectSpec) -> None:
        self.emit("step_started", {"step": spec.name})
        shape = self.shapes[spec.name]
        if not shape.hierarchical:
            for chunk in self._chunks(spec):
                self._register(spec, chunk.rows)
                chunk = chunk.only_chosen()
                self._park_pass2(spec, chunk, None)
                self.stats[spec.name].rows += self._write(spec.name, spec, chunk, shape.pass1_columns)
        else:
            spill = Spill(self.staging / f".{spec.name}.spill.arrow")
            keys: list[np.ndarray] = []
            parents: list[list[tuple[np.ndarray, np.ndarray]]] = []
            for chunk in self._chunks(spec):  # keys are registered once the levels' own rejects are known
                spill.write(chunk)
                keys.append(key_hashes(_text(chunk.rows, shape.layout.key_header)))
                parents.append([(key_hashes(chunk.rows[h]), (chunk.rows[h] != "").to_numpy())
                                for h in shape.self_headers])
            spill.close()
            self._write_levels(spec, spill, keys, parents)
        self.seen.pop(spec.name, None)  # repeated keys can only occur within a step
        self.emit("step_done", {"step": spec.name, "rows": self.stats[spec.name].rows})

    def _check_files(self, spec: ObjectSpec, chunk: RowChunk) -> RowChunk:
        """Binary fields' paths: a file that is not there (or cannot be read) makes a reject naming
        the path; the others become the `#path` references a ZIP batch names its files by."""
        for name in self.file_fields[spec.name]:
            if chunk.rows.empty or name not in chunk.rows:
                continue
            checked = self.files.check(chunk.rows[name])
            bad = checked.errors.index[(checked.errors != "").to_numpy()]
            keys = _text(chunk.rows, self.shapes[spec.name].layout.key_header)
            self.refusals.reject(spec, chunk, bad, name, chunk.rows[name], checked.errors, keys)
            chunk = chunk.without(bad)
            chunk = chunk.with_rows(chunk.rows.assign(**{name: checked.references.loc[chunk.rows.index]}))
        return chunk

    def _write(self, node_id: str, spec: ObjectSpec, chunk: RowChunk, columns: list[str]) -> int:
        if self.file_fields[spec.name] and node_id == spec.name:
            sizes = sum(self.files.size_of(chunk.rows[f]) for f in self.file_fields[spec.name])
            by_rest = goes_by_rest(sizes)
            self.file_stats[spec.name].add(sizes, by_rest)
            if by_rest.any():
                self._write(node_id + REST_SUFFIX, spec, chunk.with_rows(chunk.rows[by_rest]), columns)
                chunk = chunk.with_rows(chunk.rows[~by_rest])
        if node_id not in self.writers:
            by_rest = node_id.endswith(REST_SUFFIX)  # files too big for a ZIP batch: rest-0001.csv beside the parts
            folder = self.staging / node_id.removesuffix(REST_SUFFIX).replace(":", ".")
            if by_rest or node_id.endswith(":pass2"):
                self.writers[node_id] = PartWriter(folder, columns, max_rows=spec.part_rows,
                                                   max_bytes=spec.part_bytes, prefix="rest" if by_rest else "part")
            else:
                lock = self.shapes[spec.name].lock_column if self.options.lock_order else None
                self.writers[node_id] = LockAwareWriter(
                    folder, columns, max_rows=spec.part_rows, max_bytes=spec.part_bytes, lock=lock,
                    parts_hint=self.options.parallel_parts, spill=self.staging / f".{folder.name}.parts.arrow",
                    cuts=self.cuts)
        rows = chunk.rows
        self.writers[node_id].write(rows, chunk.files.loc[rows.index], chunk.lines.loc[rows.index])
        return len(rows)

    def _park_pass2(self, spec: ObjectSpec, chunk: RowChunk, self_deferred: np.ndarray | None) -> None:
        """Rows with a deferred lookup (or a self-reference deferred by a data cycle) get a pass-2 row:
        the key plus only those lookups; other cells are blank, which leaves them unchanged."""
        shape = self.shapes[spec.name]
        columns, deferred = shape.pass2_columns, shape.deferred_headers
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
        blanked = {h: pd.Series(np.where(keep_self, picked[h], ""), index=picked.index, dtype="str")
                   for h in shape.self_headers}
        spill = self.pass2.setdefault(spec.name, Spill(self.staging / f".{spec.name}.pass2.arrow"))
        spill.write(chunk.with_rows(picked.assign(**blanked)[columns]))

    def _write_levels(self, spec: ObjectSpec, spill: Spill, keys: list[np.ndarray],
                      parents: list[list[tuple[np.ndarray, np.ndarray]]]) -> None:
        """Second pass over a hierarchical step: route each row to its level's part."""
        shape = self.shapes[spec.name]
        width = len(shape.self_columns)
        all_keys = np.concatenate(keys) if keys else np.array([], dtype=np.uint64)
        parent_keys = [np.concatenate([p[i][0] for p in parents]) for i in range(width)] if parents else \
            [all_keys] * width
        present = [np.concatenate([p[i][1] for p in parents]) for i in range(width)] if parents else \
            [np.zeros(0, bool)] * width
        levels = hierarchy.compute_levels(all_keys, parent_keys, present)
        stats = self.stats[spec.name]
        refused, below = self._refused_subtrees(shape, levels)
        stats.levels = levels.count_of(~refused)  # a level of refused rows only is not a step
        stats.deferred_rows += int(levels.deferred[~refused].sum())
        offset = 0
        for chunk in spill.read():
            span = slice(offset, offset + len(chunk.rows))
            offset += len(chunk.rows)
            labels = chunk.rows.index
            level = pd.Series(levels.level[span], index=labels)
            deferred = pd.Series(levels.deferred[span], index=labels)
            chunk = self._self_missing(spec, chunk, [missing[span] for missing in levels.missing_by_lookup])
            chunk = self._refuse_below(spec, chunk, labels, levels, refused, below, span)
            self._register(spec, chunk.rows)
            chunk = chunk.only_chosen()
            level, deferred = level.loc[chunk.rows.index].to_numpy(), deferred.loc[chunk.rows.index].to_numpy()
            self._park_pass2(spec, chunk, deferred)
            rows = chunk.rows.assign(**{h: pd.Series(np.where(deferred, "", chunk.rows[h]), index=chunk.rows.index,
                                                     dtype="str") for h in shape.self_headers})
            for value in np.unique(level):
                stats.rows += self._write(f"{spec.name}:L{value}", spec, chunk.with_rows(rows[level == value]),
                                          shape.pass1_columns)
        spill.discard()

    def _self_missing(self, spec: ObjectSpec, chunk: RowChunk, missing: list[np.ndarray]) -> RowChunk:
        """Rows naming a parent that is not in the step's own data (self-lookups), per lookup."""
        if not any(m.any() for m in missing):
            return chunk
        shape = self.shapes[spec.name]
        keys = _text(chunk.rows, shape.layout.key_header)
        index = chunk.rows.index
        for column, flags in zip(shape.self_columns, missing, strict=True):
            mask = pd.Series(flags, index=index).reindex(chunk.rows.index, fill_value=False)
            chunk = self.refusals.missing_parents(spec, chunk, column, mask, keys)
        return chunk

    def _refused_subtrees(self, shape: StepShape, levels: hierarchy.Levels) -> tuple[np.ndarray, np.ndarray]:
        """(refused, below): rows refused for a missing self-parent or lying below one, and those below.

        Rows below a refused row are refused too: their parent (or an ancestor) is never sent, so the
        org would fail them. Positions over the whole step.
        """
        seeds = np.zeros(levels.level.size, dtype=bool)
        for column, missing in zip(shape.self_columns, levels.missing_by_lookup, strict=True):
            if self.refusals.rejects_missing(column):
                seeds |= missing
        below = levels.descendants(seeds) if seeds.any() else seeds
        return seeds | below, below

    def _refuse_below(self, spec: ObjectSpec, chunk: RowChunk, labels: pd.Index, levels: hierarchy.Levels,
                      refused: np.ndarray, below: np.ndarray, span: slice) -> RowChunk:
        """Reject this chunk's rows lying below a refused row, naming the self-lookup that leads there.

        `labels` are the chunk's row labels before any of its rows were refused (they align with `span`).
        """
        here = below[span]
        if not here.any():
            return chunk
        shape = self.shapes[spec.name]
        keys = _text(chunk.rows, shape.layout.key_header)
        left = here.copy()
        for column, parents in zip(shape.self_columns, levels.parent_position, strict=True):
            linked = parents[span]
            via = left & (linked >= 0) & refused[np.maximum(linked, 0)]
            if via.any():
                self.refusals.reject(spec, chunk, labels[via], column.lookup.field, chunk.rows[column.header],
                                     f"parent {column.target} with {column.key} = this value is refused "
                                     f"({self.refusals.missing_rule(column)}), "
                                     "so this row is too", keys)
                left &= ~via
        return chunk.without(labels[here])

    def finish_pass2(self) -> None:
        """Write pass-2 parts, now that every parent key of every deferred lookup is known."""
        for name, spill in self.pass2.items():
            spill.close()
            spec, shape = self.plan.step(name), self.shapes[name]
            assert spec is not None
            for chunk in spill.read():
                chunk = self._check_parents(spec, chunk, deferred=True)
                links = chunk.rows[shape.pass2_columns[1:]]
                chunk = chunk.without(links.index[(links == "").all(axis=1).to_numpy()])  # nothing left to set
                self.pass2_rows[name] = self.pass2_rows.get(name, 0) + self._write(
                    f"{name}:pass2", spec, chunk, shape.pass2_columns)
            spill.discard()

    def compile_all(self) -> tuple[StepNode, ...]:
        for name in self.order.processing_order:
            spec = self.plan.step(name)
            assert spec is not None
            self.compile_step(spec)
        self.finish_pass2()
        levels = {name: self.stats[name].levels for name in self.order.hierarchical}
        return expand_steps(self.order, levels, [n for n, rows in self.pass2_rows.items() if rows])

    def _files_dir(self) -> str:
        """The files folder as the manifest keeps it: relative to the plan's folder (so a compiled
        plan reads the same on every machine), absolute only when it lies elsewhere."""
        folder, base = self.files.folder.resolve(), self.plan.file.parent.resolve()
        return os.path.relpath(folder, base) if folder.is_relative_to(base) else str(folder)

    def manifest(self, nodes: tuple[StepNode, ...]) -> Manifest:
        steps = []
        for node in nodes:
            shape = self.shapes[node.step]
            spec = shape.layout.spec
            parts = tuple(PartEntry(path=p.path.relative_to(self.staging).as_posix(), rows=p.rows, bytes=p.bytes,
                                    sha256=p.sha256, transport=transport,
                                    source_index=p.path.with_suffix(".source.csv").relative_to(self.staging).as_posix(),
                                    locks=locks.get(p.path.name, ()))
                          for writer, transport in ((self.writers.get(node.id), "bulk"),
                                                    (self.writers.get(node.id + REST_SUFFIX), "rest"))
                          for locks in [writer.locks if isinstance(writer, LockAwareWriter) else {}]
                          for p in (writer.close() if writer else []))
            binary = tuple(self.file_fields[node.step]) if node.pass_no == 1 else ()
            if node.pass_no == 2:
                (operation, external_id), columns = shape.pass2_operation, shape.pass2_columns
            else:
                operation, columns = spec.operation, shape.pass1_columns
                external_id = spec.external_id if spec.operation == "upsert" else None
            steps.append(StepEntry(id=node.id, step=node.step, object=node.object, operation=operation,
                                   external_id=external_id, key_column=shape.layout.key_header, api=spec.api,
                                   concurrency=spec.concurrency, pass_no=node.pass_no, level=node.level,
                                   wave=node.wave, depends_on=node.depends_on, columns=tuple(columns), parts=parts,
                                   rows=sum(p.rows for p in parts),
                                   files_dir=self._files_dir() if binary else None, binary_fields=binary))
        sources = tuple(SourceSummary(step=s.name, object=s.object, files=tuple(st.files), source_rows=st.source_rows,
                                      filtered=st.filtered, rejected=st.rejected, rows=st.rows,
                                      missing_parents=dict(sorted(st.missing.items())), deferred_rows=st.deferred_rows,
                                      levels=st.levels, lookups=self.shapes[s.name].lookup_entries(),
                                      masked=self.fake.masked.get(s.name, {}), generated=self.fake.generated(s),
                                      binary_files=self.file_stats[s.name].as_dict() if s.name in self.file_stats
                                      else None)
                        for s in self.plan.objects for st in (self.stats[s.name],))
        return Manifest(plan_name=self.plan.name, plan_file=self.plan.file.as_posix(),
                        plan_checksum=self.plan.checksum, description=self.plan.description,
                        strict=self.options.strict, steps=tuple(steps), sources=sources,
                        rejects=self.refusals.rejects.rows, missing_parents=self.refusals.missing.rows,
                        variables=dict(self.plan.variables), warnings=tuple(self.warnings),
                        warning_count=self.warning_count, fake=self.fake.summary())


def compile_plan(plan: Plan, options: PlanOptions, on_event: Event | None = None) -> Manifest:
    """Compile `plan` into `options.out_dir` (replaced atomically; a failed compile leaves it as it was)."""
    out_dir = options.out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_FILE).exists():
        raise UsageError(f"{out_dir} is not empty and holds no compiled plan; choose another --out")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        compiler = _Compiler(plan, options, staging, on_event or (lambda kind, data: None))
        manifest = compiler.manifest(compiler.compile_all())
        compiler.parents.write_never_sent(staging, compiler.registry)
        write_manifest(manifest, staging)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
        return manifest
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
