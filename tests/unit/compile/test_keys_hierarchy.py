"""Key sets and hierarchy levels."""

import numpy as np
import pandas as pd

from migrator.compile.hierarchy import compute_levels
from migrator.compile.keys import KeySet, first_occurrences, key_hashes


def test_keys_are_case_insensitive_and_tracked_across_chunks():
    seen = KeySet()
    first = key_hashes(pd.Series(["A1", "a1", "B2"], dtype="str"))
    mask = first_occurrences(first, seen)
    assert mask.tolist() == [True, False, True]
    seen.add(first[mask])
    second = key_hashes(pd.Series(["b2", "C3"], dtype="str"))
    assert first_occurrences(second, seen).tolist() == [False, True]
    assert seen.contains(key_hashes(pd.Series(["A1", "Q"], dtype="str"))).tolist() == [True, False]


def test_keyset_merges_runs_and_keeps_members():
    rng = np.random.default_rng(3)
    seen, everything = KeySet(), []
    for _ in range(20):
        batch = rng.integers(0, 2**63, 1000).astype(np.uint64)
        seen.add(batch)
        everything.append(batch)
    assert len(seen) == len(np.unique(np.concatenate(everything)))
    assert seen.contains(everything[3]).all()
    assert not seen.contains(np.array([1, 2, 3], dtype=np.uint64)).any()


def levels_of(parents):
    keys = np.arange(1, len(parents) + 1, dtype=np.uint64)
    parent = np.array(parents, dtype=np.uint64)
    return compute_levels(keys, [parent], [parent != 0])


def test_forest_levels_cycles_self_loops_and_missing_parents():
    # 1 root; 2->1; 3->2; 4->99 missing; 5<->6 cycle; 7->5 under the cycle; 8->8 self; 9->7
    levels = levels_of([0, 1, 2, 99, 6, 5, 5, 8, 7])
    assert levels.level.tolist() == [0, 1, 2, 0, 0, 0, 1, 0, 2]
    assert levels.deferred.tolist() == [False, False, False, False, True, True, False, True, False]
    assert levels.missing_parent.tolist() == [False, False, False, True] + [False] * 5
    assert levels.count == 3


def test_deep_chains_are_capped_and_deferred():
    levels = compute_levels(np.arange(1, 31, dtype=np.uint64), [np.arange(0, 30, dtype=np.uint64)],
                            [np.arange(0, 30) != 0], max_levels=10)
    assert levels.count == 10
    assert levels.deferred.sum() == 20
    assert levels.level[:10].tolist() == list(range(10))


def test_two_self_lookups_wait_for_both_parents():
    keys = np.array([1, 2, 3], dtype=np.uint64)
    first = np.array([0, 1, 1], dtype=np.uint64)
    second = np.array([0, 0, 2], dtype=np.uint64)
    levels = compute_levels(keys, [first, second], [first != 0, second != 0])
    assert levels.level.tolist() == [0, 1, 2]
