"""Score bins as evaluation reads them: lower edges agree with the profile's binning, thresholds snap up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.evaluation.bins import ScoreBins


def test_uniform_bins_hold_their_scores_between_lower_edges_and_centre_their_representative() -> None:
    edges = score_edges(None, 0.0, 1.0)
    bins = ScoreBins.from_edges(edges)
    scores = np.random.default_rng(0).random(20_000)
    b = score_bin(scores, edges)
    upper = np.append(bins.lower[1:], 1.0)
    assert bins.uniform and len(bins) == 1000
    assert np.all(bins.lower[b] <= scores + 1e-12) and np.all(scores < upper[b] + 1e-12)
    assert np.all(np.abs(bins.scores[b] - scores) <= 0.0005 + 1e-12)


@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.3, 0.5, 0.73, 0.999])
def test_flagged_bins_are_exactly_the_rows_at_or_above_a_threshold_on_an_edge(threshold: float) -> None:
    edges = score_edges(None, 0.0, 1.0)
    bins = ScoreBins.from_edges(edges)
    rng = np.random.default_rng(1)
    scores = np.concatenate((rng.random(5000), np.linspace(0, 1, 1001)))
    flagged = bins.flagged(threshold)[score_bin(scores, edges)]
    assert np.array_equal(flagged, scores >= threshold)


def test_a_threshold_inside_a_bin_snaps_up_to_its_upper_edge() -> None:
    edges = score_edges(None, 0.0, 1.0)
    bins = ScoreBins.from_edges(edges)
    scores = np.random.default_rng(2).random(5000)
    flagged = bins.flagged(0.5004)[score_bin(scores, edges)]
    assert np.array_equal(flagged, scores >= 0.501)
    assert bins.first_flagged(2.0) == len(bins)
    assert bins.first_flagged(-1.0) == 0


def test_exact_bins_use_the_reference_scores_and_need_the_lowest_for_bin_zero() -> None:
    reference = [0.05, 0.2, 0.5, 0.9]
    edges = score_edges(reference, 0.05, 0.9)
    known = ScoreBins.from_edges(edges, lowest=0.05)
    assert not known.uniform
    assert known.scores.tolist() == reference
    assert list(score_bin(reference, edges)) == [0, 1, 2, 3]
    assert [known.first_flagged(t) for t in (0.05, 0.2, 0.21, 0.9)] == [0, 1, 2, 3]
    unknown = ScoreBins.from_edges(edges)
    assert math.isnan(unknown.scores[0]) and unknown.lower[0] == -math.inf
    assert unknown.first_flagged(0.0) == 1


def test_invalid_edges_lowest_and_threshold_say_what_was_received() -> None:
    with pytest.raises(ValueError, match=r"edges must be finite and strictly increasing; got \[0.5, 0.2\]"):
        ScoreBins.from_edges((0.5, 0.2))
    with pytest.raises(ValueError,
                       match=r"lowest must be a finite score below the first edge 0\.5; got 0\.7"):
        ScoreBins.from_edges((0.5, 0.9), lowest=0.7)
    with pytest.raises(ValueError, match=r"threshold must be a finite number; got nan"):
        ScoreBins.from_edges((0.5,)).first_flagged(math.nan)
