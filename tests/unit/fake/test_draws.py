"""Counter-based draws: a row's number depends on (seed, names, row index) only."""

from __future__ import annotations

import numpy as np
import pytest

from migrator.fake.draws import Stream, name_key


def test_a_row_gets_the_same_number_whatever_rows_are_drawn_with_it():
    stream = Stream.of(42, "Account", "name")
    every = stream.raw(np.arange(10_000))
    picked = np.array([9_999, 3, 5_000, 3])
    assert (stream.raw(picked) == every[picked]).all()
    assert np.array_equal(np.concatenate([stream.raw(np.arange(0, 4_000)), stream.raw(np.arange(4_000, 10_000))]),
                          every)


def test_seed_step_and_column_each_give_another_stream():
    rows = np.arange(1_000)
    base = Stream.of(42, "Account", "name").raw(rows)
    for other in (Stream.of(43, "Account", "name"), Stream.of(42, "Contact", "name"),
                  Stream.of(42, "Account", "city")):
        assert (other.raw(rows) != base).mean() > 0.99


def test_the_streams_are_fixed_bits_on_every_machine():
    # SeedSequence and SplitMix64 are integer arithmetic: these values must never change, or every
    # generated plan would change with them.
    assert name_key("Account") == 0x0C64F241560D1B7E
    assert Stream.of(42, "Account", "name").raw(np.arange(3)).tolist() == [
        17374619477619042191, 7540010449198061985, 18234617320846888643]


def test_units_are_in_0_1_and_below_stays_below():
    stream = Stream.of(1, "x")
    rows = np.arange(200_000)
    units = stream.unit(rows)
    assert units.min() >= 0 and units.max() < 1
    assert abs(units.mean() - 0.5) < 0.005
    picks = stream.below(rows, 7)
    assert picks.min() == 0 and picks.max() == 6
    assert np.allclose(np.bincount(picks) / len(rows), 1 / 7, atol=0.005)
    assert (stream.below(rows[:5], 1) == 0).all()


@pytest.mark.parametrize("weights", [(1, 3, 6), (5, 0.5, 0.5, 4)])
def test_weighted_picks_follow_the_weights(weights):
    picks = Stream.of(9, "choice").weighted(np.arange(100_000), weights)
    expected = np.asarray(weights) / sum(weights)
    assert np.allclose(np.bincount(picks, minlength=len(weights)) / len(picks), expected, atol=0.006)
