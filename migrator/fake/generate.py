"""Generated sources, read like files: the rows of a `generate:` step, chunk by chunk, as text.

`Generation` knows every generated step of a plan: how many rows each has (`count` times
`--scale`, or the children drawn for each row of its `per` step), which parent each child row
belongs to, and every column's value at any row index. Values depend on the row index only, never
on the chunk: the planner reads chunks in order, a child reads its parent's columns at the parent's
index, a `ref` reads a random row of another step, and all three see the same values.

Children are numbered parent by parent (the children of parent 0 first), and each parent's
number of children is drawn from its own index: so the first rows of a scaled run are the rows of
the unscaled run, and a second run with the same seed makes the same keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from migrator.errors import SourceDataError, UsageError
from migrator.fake import columns as kinds
from migrator.fake import dates
from migrator.fake.draws import Stream
from migrator.fake.pools import ProviderError, date_alias, pool_array
from migrator.plan.fakespec import (
    ChoiceColumn,
    Column,
    DateColumn,
    FakeColumn,
    GenerateSpec,
    NumberColumn,
    ParentColumn,
    RefColumn,
    SeqColumn,
    TemplateColumn,
)
from migrator.plan.templating import Template, compile_template

CHUNK_ROWS = 50_000
_COUNTS_BLOCK = 1 << 20
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # the planner's text dtype (compile/csvio.py)


def text_frame(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper={pa.string(): _TEXT, pa.large_string(): _TEXT}.get)


class Generation:
    """The generated steps of one plan at one scale; values are made on demand."""

    def __init__(self, specs: Sequence[GenerateSpec], *, scale: int = 1, variables: Mapping[str, str] | None = None):
        if scale < 1:
            raise UsageError("--scale must be 1 or more")
        self.specs = {s.step: s for s in specs}
        self.scale = scale
        self.variables = dict(variables or {})
        self._totals: dict[str, int] = {}
        self._ends: dict[str, np.ndarray] = {}  # per step with `per`: cumulative children, parent by parent
        self._templates: dict[tuple[str, str], Template] = {}
        self._anchors: dict[str, datetime | None] = {}

    # --- shape -----------------------------------------------------------------------------------

    def total(self, step: str) -> int:
        """How many rows the step generates."""
        if step not in self._totals:
            spec = self.specs[step]
            if spec.per is None:
                self._totals[step] = int(spec.count or 0) * self.scale
            else:
                ends = self._children_ends(spec)
                self._totals[step] = int(ends[-1]) if len(ends) else 0
        return self._totals[step]

    def _children_ends(self, spec: GenerateSpec) -> np.ndarray:
        if spec.step not in self._ends:
            assert spec.per is not None and spec.children is not None
            parents = self.total(spec.per)
            stream = Stream.of(spec.seed, spec.step, "(children)")
            counts = np.asarray(spec.children.counts, dtype=np.int64)
            blocks = [counts[stream.weighted(np.arange(start, min(start + _COUNTS_BLOCK, parents)),
                                             spec.children.weights)]
                      for start in range(0, parents, _COUNTS_BLOCK)]
            self._ends[spec.step] = np.cumsum(np.concatenate(blocks)) if blocks else np.zeros(0, np.int64)
        return self._ends[spec.step]

    def parent_rows(self, step: str, rows: np.ndarray) -> np.ndarray:
        """The index in the `per` step of each row's parent."""
        return np.searchsorted(self._children_ends(self.specs[step]), rows, side="right")

    def children_per_parent(self, step: str) -> np.ndarray:
        """How many children each parent row got (for reports and tests of the distribution)."""
        return np.diff(self._children_ends(self.specs[step]), prepend=0)

    # --- rows --------------------------------------------------------------------------------------

    def chunks(self, step: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """(text frame of every column, 1-based row numbers) for consecutive blocks of rows."""
        spec = self.specs[step]
        total = self.total(step)
        for start in range(0, total, chunk_rows):
            rows = np.arange(start, min(start + chunk_rows, total), dtype=np.int64)
            evaluation = _Evaluation(self, spec, rows)
            table = pa.table({c.name: evaluation.get(c.name) for c in spec.columns})
            yield text_frame(table), rows + 1

    def frame(self, step: str, rows: np.ndarray) -> pd.DataFrame:
        """Every column of the given rows (0-based indexes), in any order."""
        spec = self.specs[step]
        evaluation = _Evaluation(self, spec, np.asarray(rows, dtype=np.int64))
        return text_frame(pa.table({c.name: evaluation.get(c.name) for c in spec.columns}))

    def template(self, spec: GenerateSpec, column: TemplateColumn) -> Template:
        key = (spec.step, column.name)
        if key not in self._templates:
            self._templates[key] = compile_template(column.template)
        return self._templates[key]

    def anchor(self, spec: GenerateSpec) -> datetime | None:
        if spec.step not in self._anchors:
            self._anchors[spec.step] = dates.anchor_of(spec, self.variables) if spec.uses_relative_dates() or \
                any(isinstance(c, FakeColumn) and date_alias(c.provider, c.args) for c in spec.columns) else None
        return self._anchors[spec.step]


class _Evaluation:
    """The columns of one step at one set of rows, each computed once (templates read others)."""

    def __init__(self, generation: Generation, spec: GenerateSpec, rows: np.ndarray):
        self.generation, self.spec, self.rows = generation, spec, rows
        self.done: dict[str, pa.Array] = {}
        self.busy: set[str] = set()

    def stream(self, column: Column, *purpose: str) -> Stream:
        return Stream.of(self.spec.seed, self.spec.step, column.name, *purpose)

    def get(self, name: str) -> pa.Array:
        if name not in self.done:
            column = self.spec.column(name)
            if column is None or name in self.busy:  # the plan checks refuse both
                raise UsageError(f"{self.spec.display}: column {name!r} cannot be generated")
            self.busy.add(name)
            values = self._compute(column)
            if column.blank:
                values = kinds.blank_out(values, self.stream(column, "(blank)").unit(self.rows) < column.blank)
            self.done[name] = values
            self.busy.discard(name)
        return self.done[name]

    def _compute(self, column: Column) -> pa.Array:
        rows = self.rows
        if isinstance(column, SeqColumn):
            return kinds.seq_values(column, rows, self.spec.seed)
        if isinstance(column, ChoiceColumn):
            return kinds.choice_values(column, self.stream(column), rows)
        if isinstance(column, NumberColumn):
            return kinds.number_values(column, self.stream(column), rows)
        if isinstance(column, DateColumn):
            return self._dates(column, column.start, column.end, column.with_time)
        if isinstance(column, FakeColumn):
            return self._fake(column)
        if isinstance(column, TemplateColumn):
            return self._template(column)
        if isinstance(column, ParentColumn):
            assert self.spec.per is not None
            parents = self.generation.parent_rows(self.spec.step, rows)
            return _Evaluation(self.generation, self.generation.specs[self.spec.per], parents).get(column.column)
        assert isinstance(column, RefColumn)
        target = self.generation.specs[column.step]
        picked = self.stream(column).below(rows, self.generation.total(column.step))
        if self.generation.total(column.step) == 0:
            return pa.array([""] * len(rows), type=pa.string())
        return _Evaluation(self.generation, target, picked).get(column.column)

    def _dates(self, column: Column, start: str, end: str, with_time: bool) -> pa.Array:
        anchor = self.generation.anchor(self.spec)
        first, last = dates.resolve(start, anchor), dates.resolve(end, anchor)
        if first > last:
            raise UsageError(f"{column.location}: {self.spec.step}.{column.name}: the dates run backwards "
                             f"({start} is {first:%Y-%m-%d}, after {end}, {last:%Y-%m-%d})")
        return dates.draw_dates(self.stream(column), self.rows, first, last, with_time=with_time)

    def _fake(self, column: FakeColumn) -> pa.Array:
        try:
            alias = date_alias(column.provider, column.args)
            if alias is not None:
                return self._dates(column, *alias)
            seed = int(self.stream(column, "(pool)").raw(np.zeros(1, np.int64))[0] >> np.uint64(1))
            pool = pool_array(column.provider, column.args, column.locale, column.pool, seed)
        except ProviderError as exc:
            raise UsageError(f"{column.location}: {self.spec.step}.{column.name}: {exc}") from None
        return kinds.pool_values(pool, self.stream(column), self.rows)

    def _template(self, column: TemplateColumn) -> pa.Array:
        template = self.generation.template(self.spec, column)
        frame = text_frame(pa.table({name: self.get(name) for name in sorted(template.columns)})) \
            if template.columns else pd.DataFrame(index=pd.RangeIndex(len(self.rows)))
        values, errors = template.render_column(frame, self.generation.variables)
        bad = np.flatnonzero((errors != "").to_numpy())
        if len(bad):
            raise SourceDataError(f"column {column.name}: template failed: {errors.iloc[bad[0]]}",
                                  file=f"{self.spec.display}#{int(self.rows[bad[0]]) + 1}")
        return pa.array(values.astype(_TEXT).array, type=pa.string()) if len(values) else \
            pa.array([], type=pa.string())
