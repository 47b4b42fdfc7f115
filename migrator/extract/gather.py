"""Which records an extract reads: whole objects, or a subset and its closure.

Without `--where` or `--limit` every step reads its whole object, all steps side by side (by Id
ranges or PK chunking when asked). A subset starts at the steps a condition names, and at the roots
(steps that look up no other step) when `--limit N` asks for the first N records of each:

1. **down**: a step that looks up a restricted step (through a pass-1 lookup: the plan's load
   order) keeps only the rows that point at the records selected there, through any such lookup
   (Contacts, Opportunities and Tasks *of those accounts*); its own condition, if any, applies too.
   Rows are asked for by ``Lookup IN (...)`` lists of the parents' Ids.
2. **up**: every lookup of a selected row (self-references, polymorphic and deferred ones included)
   pulls its parent in, even from outside the subset, and so on until nothing is missing; parents
   pulled in this way bring no children of their own.

Steps no condition reaches read their whole object. Every query is a unit of the extract's state,
named after its place in this process and built from Ids sorted, so a resumed extract asks the same
queries again and downloads only what it lacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from migrator.compile.graph import build_load_order
from migrator.errors import UsageError
from migrator.extract import soql
from migrator.extract.chunks import read_chunk
from migrator.extract.download import Cancelled, Downloader, Query
from migrator.extract.readback import StepReadBack
from migrator.extract.state import ExtractState
from migrator.plan.model import Plan

WHOLE, SUBSET = "whole", "subset"


@dataclass(frozen=True)
class Selection:
    """`--where STEP=CONDITION` (by step name or object, resolved to step names) and `--limit N`."""

    where: Mapping[str, str] = field(default_factory=dict)
    limit: int | None = None

    @property
    def restricts(self) -> bool:
        return bool(self.where) or self.limit is not None


def parse_where(plan: Plan, pairs: Iterable[str], steps: Sequence[str]) -> dict[str, str]:
    """`OBJECT=CONDITION` options, the name being a step or an object of the extract (any case)."""
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, condition = pair.partition("=")
        name, condition = name.strip(), condition.strip()
        if not sep or not name or not condition:
            raise UsageError(f"--where {pair!r}: expected OBJECT=CONDITION, e.g. Account=\"Industry = 'Technology'\"")
        objects = {s: (plan.step(s).object if plan.step(s) else "").lower() for s in steps}  # type: ignore[union-attr]
        matched = [s for s in steps if name.lower() in (s.lower(), objects[s])]
        if not matched:
            raise UsageError(f"--where {name}: no step of the extract is named so or loads that object "
                             f"(steps: {', '.join(steps)})")
        for step in matched:
            found[step] = f"({found[step]}) AND ({condition})" if step in found else condition
    return found


@dataclass(frozen=True)
class GatherOptions:
    pk_chunking: bool = False  # whole objects by Bulk API 1.0 PK chunking
    id_ranges: int | None = None  # whole objects in Id ranges of this many records


class Gatherer:
    """Runs the queries of one extract (see the module docstring); `modes` says how each step was read."""

    def __init__(self, plan: Plan, readbacks: Mapping[str, StepReadBack], key_prefixes: Mapping[str, str | None],
                 downloader: Downloader, state: ExtractState, options: GatherOptions):
        self.plan, self.readbacks = plan, dict(readbacks)
        self.prefixes = {obj.lower(): prefix for obj, prefix in key_prefixes.items()}
        self.downloader, self.state, self.options = downloader, state, options
        order = build_load_order(plan)
        self.order = [s for s in order.processing_order if s in self.readbacks]
        self.parents = {s: [p for p in order.parents(s) if p in self.readbacks and p != s] for s in self.order}
        self.modes: dict[str, str] = {}
        self.ids: dict[str, set[str]] = {s: set() for s in self.order}
        self.refs: dict[str, dict[str, set[str]]] = {s: {} for s in self.order}
        self._scanned: set[Path] = set()

    # --- the plan of the queries -------------------------------------------------------------------

    def roots(self) -> list[str]:
        return [s for s in self.order if not self.parents[s]]

    def restricted(self, selection: Selection) -> tuple[set[str], set[str]]:
        """(steps a condition or the limit restricts, steps that follow them down)."""
        restricted = set(selection.where) | (set(self.roots()) if selection.limit is not None else set())
        following: set[str] = set()
        for step in self.order:
            if set(self.parents[step]) & (restricted | following):
                following.add(step)
        return restricted, following

    def plan_modes(self, selection: Selection) -> dict[str, str]:
        """How each step will be read: its whole object, or as part of the subset."""
        restricted, following = self.restricted(selection)
        self.modes = {s: (SUBSET if s in restricted | following else WHOLE) for s in self.order}
        return dict(self.modes)

    def run(self, selection: Selection, on_ready: Callable[[str], None] | None = None) -> dict[str, str]:
        """Read every step's records; `on_ready(step)` once a step has all of them (whole objects as soon as
        their queries are done, a subset's steps once its closure is complete), so files can be written
        while the rest downloads."""
        ready = on_ready or (lambda step: None)
        _, following = self.restricted(selection)
        self.plan_modes(selection)
        subset = [s for s in self.order if self.modes[s] == SUBSET]
        whole = [s for s in self.order if self.modes[s] == WHOLE]
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=max(1, len(whole)), thread_name_prefix="extract-step") as pool:
            futures = {pool.submit(self._read_whole, s, selection.where.get(s)): s for s in whole}
            for future in futures:  # one step failing (or stopped) stops the others at their next page
                future.add_done_callback(lambda done: self.downloader.cancel() if done.exception() else None)
            try:
                for step in subset:
                    self._down(step, selection, step in following)
                self._up(subset)
                for step in subset:
                    ready(step)
            except BaseException as exc:
                self.downloader.cancel()
                errors.append(exc)
            for future in as_completed(futures):
                if future.exception() is None:
                    ready(futures[future])
                else:
                    errors.append(future.exception())  # type: ignore[arg-type]
        if errors:  # the failure that stopped the others, not their being stopped
            raise next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
        return dict(self.modes)

    def _read_whole(self, step: str, condition: str | None) -> None:
        self.downloader.run_all(self._whole(step, condition))

    # --- whole objects -------------------------------------------------------------------------------

    def _whole(self, step: str, condition: str | None) -> list[Query]:
        readback = self.readbacks[step]
        conditions = [condition] if condition else []
        if self.options.id_ranges:
            return self._ranges(step, conditions)
        api = "bulk1-pk" if self.options.pk_chunking else "bulk2"
        return [Query(f"{step}:all", step, readback.object, soql.statement(readback, conditions), api)]

    def _ranges(self, step: str, conditions: list[str]) -> list[Query]:
        """Id ranges of `id_ranges` records: the Ids are read once (only them), cut every N."""
        readback = self.readbacks[step]
        where = " WHERE " + " AND ".join(f"({c})" for c in conditions) if conditions else ""
        scan = Query(f"{step}:ids", f"{step}#ids", readback.object,
                     f"SELECT Id FROM {readback.object}{where} ORDER BY Id", "bulk2")
        self.downloader.run(scan)
        every = max(1, int(self.options.id_ranges or 1))
        cuts: list[str] = []
        seen = 0
        for path in self.state.files(scan.step):
            ids = read_chunk(path, ["id"]).column("id").to_pylist()
            cuts += [ids[i] for i in range((-seen) % every, len(ids), every) if seen + i > 0]
            seen += len(ids)
        bounds: list[str | None] = [None, *cuts, None]
        return [Query(f"{step}:range-{n:05d}", step, readback.object,
                      soql.statement(readback, [*conditions, soql.id_range(low, high)]), "bulk2")
                for n, (low, high) in enumerate(itertools.pairwise(bounds), 1)]

    # --- a subset --------------------------------------------------------------------------------------

    def _down(self, step: str, selection: Selection, follows: bool) -> None:
        readback = self.readbacks[step]
        conditions = [selection.where[step]] if step in selection.where else []
        if not follows:
            limit = selection.limit if step in self.roots() else None
            api = "bulk1-pk" if self.options.pk_chunking and limit is None else "bulk2"
            queries = [Query(f"{step}:base", step, readback.object,
                             soql.statement(readback, conditions, limit=limit), api)]
        else:
            queries = []
            restricted = {p for p in self.parents[step] if self.modes.get(p) == SUBSET}
            for link, targets in readback.links:
                parents = [p for p in targets if p in restricted]
                if not parents:
                    continue
                ids = set().union(*(self.ids[p] for p in parents))
                for n, text in enumerate(soql.in_statements(readback, link, ids, conditions), 1):
                    queries.append(Query(f"{step}:via-{link}-{n:05d}", step, readback.object, text, "bulk2"))
        self.downloader.run_all(queries)
        self._scan(step)

    def _scan(self, step: str) -> None:
        """The Ids of the step's rows read so far, and the parent Ids their lookups name."""
        readback = self.readbacks[step]
        fields = [link.lower() for link, _ in readback.links]
        for path in self.state.files(step):
            if path in self._scanned:
                continue
            self._scanned.add(path)
            table = read_chunk(path, ["id", *fields])
            self.ids[step].update(v for v in table.column("id").to_pylist() if v)
            for link in fields:
                self.refs[step].setdefault(link, set()).update(v for v in table.column(link).to_pylist() if v)

    def _route(self, ids: set[str], parents: Sequence[str]) -> dict[str, set[str]]:
        """Parent Ids by the step that holds records of their object (by the Id's key prefix)."""
        routed: dict[str, set[str]] = {}
        for parent in parents:
            prefix = self.prefixes.get(self.readbacks[parent].object.lower())
            mine = {i for i in ids if prefix is None or i[:3] == prefix}
            if len(parents) > 1 and prefix is None:
                continue
            routed[parent] = mine
        return routed

    def _up(self, subset: list[str]) -> None:
        members = set(subset)
        round_no = 0
        while True:
            wanted: dict[str, set[str]] = {}
            for step in subset:
                for link, targets in self.readbacks[step].links:
                    parents = [p for p in targets if p in members]
                    if not parents:
                        continue
                    for parent, ids in self._route(self.refs[step].get(link.lower(), set()), parents).items():
                        missing = ids - self.ids[parent]
                        if missing:
                            wanted.setdefault(parent, set()).update(missing)
            if not wanted:
                return
            round_no += 1
            queries = [Query(f"{parent}:up-{round_no:02d}-{n:05d}", parent, self.readbacks[parent].object, text,
                             "bulk2")
                       for parent in self.order if parent in wanted
                       for n, text in enumerate(soql.in_statements(self.readbacks[parent], "Id", wanted[parent]), 1)]
            self.downloader.run_all(queries)
            before = {s: len(self.ids[s]) for s in wanted}
            for parent in wanted:
                self._scan(parent)
            if all(len(self.ids[s]) == before[s] for s in wanted):
                return  # the org has none of them any more (deleted meanwhile): nothing more to pull
