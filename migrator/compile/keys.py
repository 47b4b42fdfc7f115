"""Record keys as 64-bit hashes: duplicate detection and parent look-ups across chunks.

The planner must know, for every step, which keys it has already seen (to reject repeated
external ids) and which parent keys exist (to report children whose parent is not in the
data). Holding millions of Python strings for that would make memory grow with the input, so
keys are kept as sorted runs of uint64 hashes (8 bytes a key) with vectorised membership tests.
Keys are compared case-insensitively, as Salesforce matches text external ids. The chance of two
different keys sharing a hash is about n^2 / 2^65 (3 in a million for 10 million keys).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def key_hashes(values: pd.Series) -> np.ndarray:
    """uint64 hash of each key, case-insensitive; blank keys hash like any other value."""
    lowered = values.astype("str").fillna("").str.lower()
    return pd.util.hash_pandas_object(lowered, index=False).to_numpy(dtype=np.uint64)


def _sorted_unique(hashes: np.ndarray) -> np.ndarray:
    ordered = np.sort(hashes)
    if ordered.size < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _sorted_contains(run: np.ndarray, sorted_queries: np.ndarray) -> np.ndarray:
    """Membership of already sorted queries (sorted queries keep searchsorted cache-friendly)."""
    if run.size == 0:
        return np.zeros(sorted_queries.shape, dtype=bool)
    pos = np.searchsorted(run, sorted_queries)
    pos[pos == run.size] = run.size - 1
    return run[pos] == sorted_queries


class KeySet:
    """A growing set of key hashes, stored as a few sorted runs merged as they grow (like an LSM tree)."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(r.size for r in self._runs)

    def add(self, hashes: np.ndarray) -> None:
        if hashes.size == 0:
            return
        self._runs.append(_sorted_unique(hashes))
        while len(self._runs) > 1 and self._runs[-1].size * 2 >= self._runs[-2].size:
            newest = self._runs.pop()
            self._runs[-1] = _sorted_unique(np.concatenate((self._runs[-1], newest)))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        order = np.argsort(hashes, kind="stable")
        queries = hashes[order]
        found_sorted = np.zeros(hashes.shape, dtype=bool)
        for run in self._runs:
            found_sorted |= _sorted_contains(run, queries)
        found = np.empty_like(found_sorted)
        found[order] = found_sorted
        return found

    def update(self, other: KeySet) -> None:
        for run in other._runs:
            self.add(run)

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self._runs)


def first_occurrences(hashes: np.ndarray, seen: KeySet) -> np.ndarray:
    """True where a key appears for the first time, both within `hashes` and against `seen`."""
    first_here = ~pd.Series(hashes).duplicated().to_numpy()
    return first_here & ~seen.contains(hashes)
