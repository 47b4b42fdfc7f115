"""Random numbers by row index: row i's number is a pure function of (seed, step, column, i).

A stateful generator gives row i only after rows 0..i-1; this gives any row directly, vectorised,
which is what lets the planner generate a source chunk by chunk, a child look up its parent's
columns, and the first N rows of a `--scale 10` run equal the unscaled run. Each column gets two
64-bit keys from numpy's `SeedSequence` (its documented, version-stable way of turning a seed and
a spawn key into independent streams); a row's number is SplitMix64's output function applied to
the row's counter under the first key, then again under the second. Integer arithmetic only:
the same bits on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))
_UNIT = 2.0 ** -53


def name_key(name: str) -> int:
    """A stable 64-bit number for a step or column name (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function: 64 bits in, 64 well-mixed bits out."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@dataclass(frozen=True)
class Stream:
    """The random numbers of one column (or one decision, such as children counts) of one step."""

    first: np.uint64
    second: np.uint64

    @classmethod
    def of(cls, seed: int, *names: str) -> Stream:
        state = np.random.SeedSequence(entropy=seed, spawn_key=tuple(name_key(n) for n in names))
        first, second = state.generate_state(2, dtype=np.uint64)
        return cls(np.uint64(first), np.uint64(second))

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """64 random bits for each row index."""
        counter = np.asarray(rows, dtype=np.int64).astype(np.uint64) * _GAMMA + self.first
        return mix64(mix64(counter) ^ self.second)

    def unit(self, rows: np.ndarray) -> np.ndarray:
        """A uniform float in [0, 1) for each row (53 random bits)."""
        return (self.raw(rows) >> _S11).astype(np.float64) * _UNIT

    def below(self, rows: np.ndarray, n: int) -> np.ndarray:
        """A uniform integer in 0..n-1 for each row (n up to 2**53)."""
        if n <= 1:
            return np.zeros(len(rows), dtype=np.int64)
        return np.minimum((self.unit(rows) * n).astype(np.int64), n - 1)

    def weighted(self, rows: np.ndarray, weights: tuple[float, ...] | np.ndarray) -> np.ndarray:
        """The index of a weight for each row, each chosen with probability weight / total."""
        bounds = np.cumsum(np.asarray(weights, dtype=np.float64))
        picked = np.searchsorted(bounds / bounds[-1], self.unit(rows), side="right")
        return np.minimum(picked, len(bounds) - 1).astype(np.int64)
