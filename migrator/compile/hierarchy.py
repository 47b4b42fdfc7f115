"""Hierarchy levels of self-referencing rows (Account.ParentId, Contact.ReportsToId).

Loading a hierarchy level by level means every parent exists before its children are sent, so
validation rules that require a parent pass and no second update pass is needed. A row's level
is its depth: roots (no parent, or a parent not in the data, which may already be in the org)
are level 0, their children level 1, and so on. Rows caught in a cycle of the data (A -> B -> A)
have their self-lookups deferred to a pass-2 update and become roots, and so do rows deeper than
`MAX_LEVELS` (one Bulk job per level; deeper chains are cheaper in pass 2). Everything here is
numpy over row positions: O(rows) work, no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_LEVELS = 25


@dataclass(frozen=True)
class Levels:
    level: np.ndarray  # int32 level of each row
    deferred: np.ndarray  # bool: the row's self-lookups go to pass 2
    missing_by_lookup: tuple[np.ndarray, ...]  # per self-lookup, bool: names a parent key not in the data
    parent_position: tuple[np.ndarray, ...]  # per self-lookup, the parent's row position, or -1

    @property
    def count(self) -> int:
        return self.count_of(None)

    def count_of(self, rows: np.ndarray | None) -> int:
        """Levels among `rows` (a mask; None for all): at least 1, so a step always has a level 0."""
        level = self.level if rows is None else self.level[rows]
        return int(level.max()) + 1 if level.size else 1

    @property
    def missing_parent(self) -> np.ndarray:
        """Rows naming, in any self-lookup, a parent key that is not in the data."""
        return np.logical_or.reduce(self.missing_by_lookup) if self.missing_by_lookup else \
            np.zeros(self.level.size, dtype=bool)

    def descendants(self, seeds: np.ndarray) -> np.ndarray:
        """Rows below any `seeds` row through any self-lookup (seeds excluded).

        A frontier walk, one vectorised step per generation; cycles end it because the set only grows.
        Used to refuse the subtree of a refused row: its children would name a parent never sent.
        """
        reached = seeds.copy()
        while True:
            below = np.zeros_like(reached)
            for parents in self.parent_position:
                linked = parents >= 0
                below[linked] |= reached[parents[linked]]
            below &= ~reached
            if not below.any():
                return reached & ~seeds
            reached |= below


def _position_of(sorted_keys: np.ndarray, order: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row position of each wanted key, or -1: a binary search (a hash index would cost 5x the memory)."""
    if sorted_keys.size == 0:
        return np.full(wanted.shape, -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_keys, wanted), sorted_keys.size - 1)
    return np.where(sorted_keys[at] == wanted, order[at], -1)


def _ragged_gather(starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Concatenate values[starts[i]:ends[i]] for all i, vectorised."""
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        return values[:0]
    offsets = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
    return values[offsets]


class _Adjacency:
    """Children of each row as a CSR structure over (parent position, child position) pairs."""

    def __init__(self, parents: np.ndarray, children: np.ndarray, size: int):
        order = np.argsort(parents, kind="stable")
        self.parents = parents[order]
        self.children = children[order]
        self.starts = np.searchsorted(self.parents, np.arange(size), side="left")
        self.ends = np.searchsorted(self.parents, np.arange(size), side="right")

    def children_of(self, rows: np.ndarray) -> np.ndarray:
        return _ragged_gather(self.starts[rows], self.ends[rows], self.children)


def compute_levels(
    keys: np.ndarray,
    parent_keys: list[np.ndarray],
    has_parent: list[np.ndarray],
    max_levels: int = MAX_LEVELS,
) -> Levels:
    """Levels for rows with unique `keys`; `parent_keys[k]` are the hashes named by self-lookup k."""
    size = keys.size
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    positions = np.arange(size)
    edge_parents, edge_children = [], []
    missing: list[np.ndarray] = []
    parent_positions: list[np.ndarray] = []
    self_loop = np.zeros(size, dtype=bool)
    for hashes, present in zip(parent_keys, has_parent, strict=True):
        parent_pos = np.where(present, _position_of(sorted_keys, order, hashes), -1)
        missing.append(present & (parent_pos == -1))
        parent_positions.append(parent_pos)
        self_loop |= parent_pos == positions
        linked = (parent_pos >= 0) & (parent_pos != positions)
        edge_parents.append(parent_pos[linked])
        edge_children.append(positions[linked])
    parents = np.concatenate(edge_parents) if edge_parents else np.array([], dtype=np.int64)
    children = np.concatenate(edge_children) if edge_children else np.array([], dtype=np.int64)
    deferred = self_loop.copy()
    keep = ~deferred[children]
    parents, children = parents[keep], children[keep]

    level = np.full(size, -1, dtype=np.int32)
    _assign_levels(level, parents, children, size)
    if (level < 0).any():
        in_cycle = _cycle_members(level < 0, parents, children, size)
        deferred |= in_cycle
        keep = ~in_cycle[children]
        parents, children = parents[keep], children[keep]
        level[:] = -1
        _assign_levels(level, parents, children, size)
    too_deep = level >= max_levels
    if too_deep.any():
        deferred |= too_deep
        keep = ~too_deep[children]
        level[:] = -1
        _assign_levels(level, parents[keep], children[keep], size)
    return Levels(level=level, deferred=deferred, missing_by_lookup=tuple(missing),
                  parent_position=tuple(parent_positions))


def _assign_levels(level: np.ndarray, parents: np.ndarray, children: np.ndarray, size: int) -> None:
    """Kahn's algorithm by frontier: a row is placed once all its parents are placed."""
    waiting = np.bincount(children, minlength=size)
    adjacency = _Adjacency(parents, children, size)
    frontier = np.flatnonzero(waiting == 0)
    depth = 0
    while frontier.size:
        level[frontier] = depth
        reached = adjacency.children_of(frontier)
        if reached.size == 0:
            break
        waiting -= np.bincount(reached, minlength=size)
        candidates = np.unique(reached)
        frontier = candidates[waiting[candidates] == 0]
        depth += 1


def _cycle_members(unplaced: np.ndarray, parents: np.ndarray, children: np.ndarray, size: int) -> np.ndarray:
    """Among unplaced rows, peel off those no unplaced row depends on; what is left lies on cycles."""
    inside = unplaced[parents] & unplaced[children]
    parents, children = parents[inside], children[inside]
    alive = unplaced.copy()
    dependants = np.bincount(parents, minlength=size)
    by_child = _Adjacency(children, parents, size)  # maps a child to its parents
    frontier = np.flatnonzero(alive & (dependants == 0))
    while frontier.size:
        alive[frontier] = False
        their_parents = by_child.children_of(frontier)
        if their_parents.size == 0:
            break
        dependants -= np.bincount(their_parents, minlength=size)
        candidates = np.unique(their_parents)
        frontier = candidates[alive[candidates] & (dependants[candidates] == 0)]
    return alive
