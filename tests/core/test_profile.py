"""Profiles as pure data: bin edges, merge laws, sketches."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopwatch.core.profile import (
    ALL,
    HLL_REGISTERS,
    SCORE_BINS,
    Binning,
    CategoricalStats,
    Cohort,
    NumericStats,
    hll_estimate,
    numeric_edges,
    score_bin,
    score_edges,
    uniform_grid,
)

DAY1, DAY2, DAY3 = (datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3))


def test_numeric_edges_give_out_of_range_values_bins_of_their_own() -> None:
    edges = numeric_edges([1.0, 2.0, 3.0], 0.0, 4.0)
    bins = np.searchsorted(edges, [-1.0, 0.0, 4.0, 5.0], side="right")
    assert bins[0] == 0  # below the reference minimum
    assert bins[1] == 1  # the minimum itself is inside
    assert bins[2] == len(edges) - 1  # the maximum is inside
    assert bins[3] == len(edges)  # above the reference maximum


def test_ties_collapse_and_a_constant_column_gets_one_inner_bin() -> None:
    assert len(numeric_edges([2.0] * 19, 2.0, 2.0)) == 2
    heavy = numeric_edges(list(np.quantile(np.random.default_rng(0).standard_cauchy(10_000),
                                           np.linspace(0.05, 0.95, 19))), -1e6, 1e6)
    assert list(heavy) == sorted(set(heavy))


def test_score_edges_are_exact_for_few_distinct_scores() -> None:
    scores = [0.1, 0.25, 0.7]
    edges = score_edges(scores, 0.1, 0.7)
    assert list(score_bin(scores, edges)) == [0, 1, 2]
    assert uniform_grid(edges) == (None, None)


@given(st.lists(st.floats(-1, 2, allow_nan=False), min_size=1, max_size=200))
def test_uniform_score_bins_match_the_comparison_of_edges(scores: list[float]) -> None:
    edges = score_edges(None, 0.0, 1.0)
    assert len(edges) + 1 == SCORE_BINS
    arithmetic = score_bin(scores, edges)
    by_edges = np.searchsorted(np.asarray(edges), scores, side="right")
    # away from an edge (where floating point may round either way) both agree
    near = np.min(np.abs(np.subtract.outer(np.asarray(scores), np.asarray(edges))), axis=1) < 1e-12
    assert np.array_equal(arithmetic[~near], by_edges[~near])


def test_hll_estimate_is_within_a_few_percent() -> None:
    rng = np.random.default_rng(1)
    for true in (10, 1_000, 100_000):
        hashes = rng.integers(0, 2**31, true)
        registers = np.zeros(HLL_REGISTERS, np.uint8)
        word = hashes // HLL_REGISTERS
        rank = np.where(word > 0, 21 - np.floor(np.log2(np.maximum(word, 1))).astype(int), 22)
        np.maximum.at(registers, hashes % HLL_REGISTERS, rank.astype(np.uint8))
        assert hll_estimate(registers) == pytest.approx(true, rel=0.1)


numeric_stats = st.builds(
    lambda c, n, xs: NumericStats(c, n, float(sum(xs)), float(sum(x * x for x in xs)),
                                  min(xs, default=math.inf), max(xs, default=-math.inf),
                                  np.asarray([c, n, len(xs)], np.int64)),
    st.integers(0, 100), st.integers(0, 100), st.lists(st.floats(-1e3, 1e3), max_size=5))


@given(numeric_stats, numeric_stats, numeric_stats)
def test_numeric_merge_is_associative_and_commutative(a: NumericStats, b: NumericStats,
                                                       c: NumericStats) -> None:
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(NumericStats.empty(3)) == a


def test_categorical_merge_adds_counts_and_takes_the_maximum_register() -> None:
    a = CategoricalStats(np.array([1, 2, 0]), 1, np.zeros(HLL_REGISTERS, np.uint8))
    sketch = np.zeros(HLL_REGISTERS, np.uint8)
    sketch[3] = 4
    b = CategoricalStats(np.array([0, 1, 5]), 2, sketch)
    merged = a.merge(b)
    assert list(merged.counts) == [1, 3, 5]
    assert merged.nulls == 3
    assert merged.unseen_sketch[3] == 4
    assert merged.unseen == 5


def test_merge_refuses_other_cohorts_and_other_binnings() -> None:
    binning = Binning(numeric={"x": (0.0, 1.0)}, categorical={"c": ("a",)}, score=(0.5,))
    other = Binning(numeric={"x": (0.0, 2.0)}, categorical={"c": ("a",)}, score=(0.5,))
    with pytest.raises(ValueError, match="different binnings"):
        binning.empty(DAY1, DAY2).merge(other.empty(DAY2, DAY3))
    with pytest.raises(ValueError, match="cannot merge cohort region=EU into all"):
        binning.empty(DAY1, DAY2).merge(binning.empty(DAY1, DAY2, Cohort("region", "EU")))
    combined = type(binning.empty(DAY1, DAY2)).combine(
        [binning.empty(DAY1, DAY2, Cohort("region", v)) for v in ("EU", "NA")], cohort=ALL)
    assert combined.cohort == ALL


def test_binning_round_trips_through_json_with_the_same_fingerprint() -> None:
    binning = Binning(numeric={"b": (0.1, 0.3), "a": (1.0,)}, categorical={"z": ("x", "y")},
                      score=score_edges(None, 0.0, 1.0), actions=("block",))
    again = Binning.from_json(binning.to_json())
    assert again.fingerprint == binning.fingerprint
    assert again.numeric["b"] == (0.1, 0.3)


@settings(max_examples=50)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=50))
def test_variance_from_moments_matches_numpy(values: list[float]) -> None:
    xs = np.asarray(values)
    stats = NumericStats(len(xs), 0, float(xs.sum()), float((xs * xs).sum()), float(xs.min()),
                         float(xs.max()), np.zeros(1, np.int64))
    assert stats.mean == pytest.approx(xs.mean(), abs=1e-9)
    assert stats.variance == pytest.approx(xs.var(ddof=1), abs=1e-6)
