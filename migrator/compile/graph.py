"""Plan -> load order: which step waits for which, which lookups wait for a second pass.

Two layers, both pure:

1. `build_load_order(plan)` works on the plan alone. Every lookup to an object loaded by the plan
   is an edge child step -> parent step(s). Self-references (Account.ParentId) are not edges: they
   are loaded level by level from the data. Cycles between steps are broken by deferring one of
   their lookups to a pass-2 update, chosen by load order rank (the step that loads first defers
   its lookup to the step that loads later); a cycle with nothing deferrable is an error that
   names the path. An explicit `load_order` is checked against the remaining edges.
2. `expand_steps(order, levels, pass2)` adds what only the data can tell (how many hierarchy
   levels a step has, whether it has pass-2 rows) and returns the runnable steps with their
   dependencies and waves (graphlib). Steps of one wave may load concurrently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from graphlib import TopologicalSorter

from migrator.errors import PlanError, Problem
from migrator.plan.model import Location, LookupSpec, ObjectSpec, Plan


@dataclass(frozen=True)
class Edge:
    child: str
    parent: str
    lookup: LookupSpec


@dataclass(frozen=True)
class LoadOrder:
    plan: Plan
    edges: tuple[Edge, ...]  # pass-1 dependencies between plan steps
    deferred: frozenset[tuple[str, str]]  # (step name, lookup field) set in pass 2
    hierarchical: Mapping[str, tuple[LookupSpec, ...]]  # step name -> self-lookups loaded by level
    rank: Mapping[str, int]  # explicit load_order group of each step, if given
    processing_order: tuple[str, ...]  # plan steps, parents before children

    def is_deferred(self, step: str, lookup: LookupSpec) -> bool:
        return (step, lookup.field) in self.deferred

    def parents(self, step: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.parent for e in self.edges if e.child == step))


@dataclass(frozen=True)
class StepNode:
    """One runnable step: a plan step's pass-1 load (maybe one hierarchy level of it) or its pass 2."""

    id: str
    step: str
    object: str
    pass_no: int
    level: int | None
    depends_on: tuple[str, ...]
    wave: int = 0


def _problem(message: str, where: ObjectSpec | LookupSpec | Plan | Location, hint: str | None = None) -> Problem:
    loc = where if isinstance(where, Location) else where.location
    return Problem(message=message, file=loc.file, line=loc.line, path=loc.path or None, hint=hint)


def _can_defer(step: ObjectSpec, lookup: LookupSpec) -> bool:
    """A pass-2 update must find the row again: it needs an external id sent in pass 1, or an Id."""
    has_key = bool(step.external_id and step.field_spec(step.external_id)) or step.id_source is not None
    return lookup.defer is not False and has_key


def _steps_loading(plan: Plan, object_name: str) -> tuple[str, ...]:
    return tuple(s.name for s in plan.objects if s.object == object_name)


def _explicit_ranks(plan: Plan, problems: list[Problem]) -> dict[str, int]:
    if not plan.load_order:
        return {}
    ranks: dict[str, int] = {}
    for index, group in enumerate(plan.load_order):
        for entry in group:
            names = (entry,) if plan.step(entry) else _steps_loading(plan, entry)
            for name in names:
                if name in ranks:
                    problems.append(_problem(f"load_order lists step {name!r} more than once",
                                             plan.load_order_location(entry)))
                ranks[name] = index
    missing = [s.name for s in plan.objects if s.name not in ranks]
    if missing:
        problems.append(
            _problem(
                f"load_order does not list {', '.join(missing)}; list every step "
                "(or leave load_order out to infer it from the lookups)",
                plan.load_order_location(),
            )
        )
    return ranks


def _entry_location(plan: Plan, step: str) -> Location:
    """The load_order entry placing `step`: its own name, else its object's."""
    spec = plan.step(step)
    names = [step] + ([spec.object] if spec else [])
    return next((plan.load_order_locations[n] for n in names if n in plan.load_order_locations),
                plan.load_order_location())


def _find_cycle(nodes: Iterable[str], edges: Iterable[Edge]) -> list[Edge] | None:
    """Return the edges of one cycle (child -> parent -> ... -> child), or None."""
    outgoing: dict[str, list[Edge]] = {}
    for e in edges:
        outgoing.setdefault(e.child, []).append(e)
    state: dict[str, int] = {}
    path: list[Edge] = []

    def visit(node: str) -> list[Edge] | None:
        state[node] = 1
        for edge in outgoing.get(node, ()):
            if state.get(edge.parent) == 1:
                start = (
                    next(i for i, e in enumerate(path) if e.child == edge.parent)
                    if edge.parent != node
                    else len(path)
                )
                return [*path[start:], edge]
            if edge.parent not in state:
                path.append(edge)
                found = visit(edge.parent)
                if found:
                    return found
                path.pop()
        state[node] = 2
        return None

    for node in nodes:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def build_load_order(plan: Plan) -> LoadOrder:
    """Dependencies between the plan's steps, with cycles broken and load_order checked."""
    problems: list[Problem] = []
    ranks = _explicit_ranks(plan, problems)
    position = {s.name: i for i, s in enumerate(plan.objects)}

    def rank(step: str) -> tuple[int, int]:
        return (ranks.get(step, 0), position[step])

    edges: list[Edge] = []
    deferred: set[tuple[str, str]] = set()
    hierarchical: dict[str, list[LookupSpec]] = {}
    for step in plan.objects:
        for lookup in step.lookups:
            if lookup.existing:
                continue
            self_only = lookup.targets == (step.object,) and lookup.defer is not True
            if self_only:
                hierarchical.setdefault(step.name, []).append(lookup)
            elif lookup.defer is True:
                if not _can_defer(step, lookup):
                    problems.append(
                        _problem(
                            f"{step.name}.{lookup.field} has defer: true, but the step "
                            "has no external_id (sent in its fields) or id to update "
                            "rows by in pass 2",
                            lookup,
                        )
                    )
                deferred.add((step.name, lookup.field))
                continue
            for target in lookup.targets:
                for parent in _steps_loading(plan, target):
                    if parent != step.name:
                        edges.append(Edge(child=step.name, parent=parent, lookup=lookup))
                    elif not self_only:
                        # a polymorphic lookup that may point at its own step: only pass 2 can do that
                        if not _can_defer(step, lookup):
                            problems.append(
                                _problem(
                                    f"{step.name}.{lookup.field} may refer to rows of its own step, which "
                                    "needs a pass-2 update, but the step has no external_id or id",
                                    lookup,
                                )
                            )
                        deferred.add((step.name, lookup.field))
    by_name = {s.name: s for s in plan.objects}
    while (cycle := _find_cycle(by_name, edges)) is not None:
        candidates = [e for e in cycle if _can_defer(by_name[e.child], e.lookup)]
        if not candidates:
            path = " -> ".join([cycle[0].child, *(e.parent for e in cycle)])
            lookups = ", ".join(f"{e.child}.{e.lookup.field}" for e in cycle)
            problems.append(
                _problem(
                    f"lookups form a cycle that cannot be broken: {path} ({lookups})",
                    cycle[0].lookup,
                    "set defer: true on one of them, and give its step "
                    "an external_id so pass 2 can update it",
                )
            )
            edges = [e for e in edges if e not in cycle]
            continue
        chosen = min(candidates, key=lambda e: rank(e.child))
        deferred.add((chosen.child, chosen.lookup.field))
        edges = [e for e in edges if not (e.child == chosen.child and e.lookup is chosen.lookup)]
    if ranks:
        for e in edges:
            if ranks.get(e.parent, 0) >= ranks.get(e.child, 0):
                problems.append(
                    _problem(
                        f"load_order loads {e.child} before or together with {e.parent}, but "
                        f"{e.child}.{e.lookup.field} looks up {e.parent}",
                        _entry_location(plan, e.child),
                        f"move {e.parent} earlier, or set defer: true on {e.child}.{e.lookup.field}",
                    )
                )
    if problems:
        raise PlanError(problems)
    sorter = TopologicalSorter({s.name: set() for s in plan.objects})
    for e in edges:
        sorter.add(e.child, e.parent)
    for name, r in ranks.items():
        sorter.add(name, *(other for other, o in ranks.items() if o == r - 1))
    order = sorted(plan.objects, key=lambda s: rank(s.name))
    processing = _stable_topological(sorter, [s.name for s in order])
    return LoadOrder(
        plan=plan,
        edges=tuple(edges),
        deferred=frozenset(deferred),
        hierarchical={k: tuple(v) for k, v in hierarchical.items()},
        rank=ranks,
        processing_order=processing,
    )


def _stable_topological(sorter: TopologicalSorter, preferred: list[str]) -> tuple[str, ...]:
    """A topological order that keeps plan order among steps that could go either way."""
    sorter.prepare()
    ordered: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=preferred.index)
        ordered.extend(ready)
        sorter.done(*ready)
    return tuple(ordered)


def expand_steps(order: LoadOrder, levels: Mapping[str, int], pass2: Iterable[str]) -> tuple[StepNode, ...]:
    """Runnable steps with dependencies and waves.

    `levels[step]` is the number of hierarchy levels found in the data (absent or 1: no levels);
    `pass2` names the plan steps that have rows to update in a second pass.
    """
    plan = order.plan
    nodes: dict[str, StepNode] = {}
    last_pass1: dict[str, str] = {}
    for name in order.processing_order:
        step = plan.step(name)
        assert step is not None
        count = max(1, levels.get(name, 1))
        hierarchical = name in order.hierarchical
        parents = [last_pass1[p] for p in order.parents(name)]
        if order.rank:
            my_rank = order.rank.get(name, 0)
            parents += [last_pass1[s] for s, r in order.rank.items() if r == my_rank - 1 and s in last_pass1]
        previous: str | None = None
        for level in range(count):
            node_id = f"{name}:L{level}" if hierarchical else name
            deps = tuple(dict.fromkeys([previous] if previous else parents))
            nodes[node_id] = StepNode(
                id=node_id,
                step=name,
                object=step.object,
                pass_no=1,
                level=level if hierarchical else None,
                depends_on=deps,
            )
            previous = node_id
        last_pass1[name] = previous or name
    for name in order.processing_order:
        if name not in set(pass2):
            continue
        step = plan.step(name)
        assert step is not None
        targets = {
            t
            for lk in step.lookups
            if order.is_deferred(name, lk) or lk in order.hierarchical.get(name, ())
            for t in lk.targets
            if not lk.existing
        }
        deps = [last_pass1[name]] + [last_pass1[s.name] for s in plan.objects if s.object in targets]
        node_id = f"{name}:pass2"
        nodes[node_id] = StepNode(
            id=node_id,
            step=name,
            object=step.object,
            pass_no=2,
            level=None,
            depends_on=tuple(dict.fromkeys(deps)),
        )
    return _with_waves(nodes)


def _with_waves(nodes: Mapping[str, StepNode]) -> tuple[StepNode, ...]:
    sorter = TopologicalSorter({n.id: set(n.depends_on) for n in nodes.values()})
    wave: dict[str, int] = {}
    for node_id in sorter.static_order():
        deps = nodes[node_id].depends_on
        wave[node_id] = 1 + max((wave[d] for d in deps), default=-1)
    position = {node_id: index for index, node_id in enumerate(nodes)}
    ordered = sorted(nodes.values(), key=lambda n: (wave[n.id], position[n.id]))
    return tuple(replace(n, wave=wave[n.id]) for n in ordered)


def to_mermaid(nodes: Iterable[StepNode], labels: Mapping[str, str] | None = None) -> str:
    """A Mermaid flowchart of the steps, one subgraph per wave, arrows from parent to child."""
    nodes = list(nodes)
    ident = {n.id: f"s{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart LR"]
    for wave in sorted({n.wave for n in nodes}):
        lines.append(f'  subgraph wave{wave}["wave {wave}"]')
        for n in (n for n in nodes if n.wave == wave):
            text = (labels or {}).get(n.id, n.id).replace('"', "'")
            lines.append(f'    {ident[n.id]}["{text}"]')
        lines.append("  end")
    for n in nodes:
        for dep in n.depends_on:
            lines.append(f"  {ident[dep]} --> {ident[n.id]}")
    return "\n".join(lines) + "\n"
