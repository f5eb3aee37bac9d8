"""Drift statistics from profiles agree with scipy on raw data, and the decision stays quiet on noise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from loopwatch.core.profile import (
    HLL_REGISTERS,
    QUANTILES,
    Binning,
    CategoricalStats,
    NumericStats,
    Profile,
    numeric_edges,
)
from loopwatch.monitoring.drift import (
    MIN_EFFECT,
    PSI_PSEUDOCOUNT,
    categorical_drift,
    drift_report,
    numeric_drift,
)

Floats = npt.NDArray[np.float64]
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC)


# --------------------------------------------------------------------------- helpers: profiles of raw data


def reference_edges(values: Floats) -> tuple[float, ...]:
    """Edges as the profiler fixes them: the reference's 5% quantiles, min and max."""
    return numeric_edges(list(np.quantile(values, QUANTILES)), float(values.min()), float(values.max()))


def numeric_stats(values: Floats, edges: Sequence[float]) -> NumericStats:
    bins = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return NumericStats(values.size, 0, float(values.sum()), float((values * values).sum()),
                        float(values.min()), float(values.max()), bins.astype(np.int64))


def categorical_stats(counts: Sequence[int] | npt.NDArray[np.int64]) -> CategoricalStats:
    return CategoricalStats(np.asarray(counts, dtype=np.int64), 0, np.zeros(HLL_REGISTERS, np.uint8))


def category_counts(ref_codes: npt.NDArray[np.int64], cur_codes: npt.NDArray[np.int64],
                    k: int) -> tuple[CategoricalStats, CategoricalStats]:
    """Counts as the profiler keeps them: the reference's values by frequency, then ``unseen``."""
    ref, cur = np.bincount(ref_codes, minlength=k), np.bincount(cur_codes, minlength=k)
    order = np.lexsort((np.arange(k), -ref))
    seen = order[ref[order] > 0]
    return (categorical_stats(np.append(ref[seen], 0)),
            categorical_stats(np.append(cur[seen], cur_codes.size - cur[seen].sum())))


def profiles(numeric: dict[str, tuple[NumericStats, NumericStats, tuple[float, ...]]],
             categorical: dict[str, tuple[CategoricalStats, CategoricalStats]]
             ) -> tuple[Profile, Profile, Binning]:
    binning = Binning(numeric={k: v[2] for k, v in numeric.items()},
                      categorical={k: tuple(f"c{i}" for i in range(len(v[0].counts) - 1))
                                   for k, v in categorical.items()},
                      score=(0.5,))
    empty = binning.empty(START, END)
    sides = [replace(empty, numeric={k: v[i] for k, v in numeric.items()},
                     categorical={k: v[i] for k, v in categorical.items()}) for i in (0, 1)]
    return sides[0], sides[1], binning


def zipf(rng: np.random.Generator, k: int, n: int, exponent: float = 1.0) -> npt.NDArray[np.int64]:
    weights = 1.0 / np.arange(1, k + 1) ** exponent
    return rng.choice(k, size=n, p=weights / weights.sum())


# --------------------------------------------------------------------------- statistics vs scipy

DISTRIBUTIONS = {
    "normal": lambda rng, n, shift: rng.normal(shift, 1.0, n),
    "lognormal": lambda rng, n, shift: rng.lognormal(shift, 1.0, n),
    "student_t3": lambda rng, n, shift: rng.standard_t(3.0, n) + shift,
}


@pytest.mark.parametrize("shift", [0.0, 0.1])
@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_ks_is_a_lower_bound_of_scipy_ks_2samp_within_the_largest_bin_mass(name: str, shift: float) -> None:
    rng = np.random.default_rng(11)
    x, y = DISTRIBUTIONS[name](rng, 20_000, 0.0), DISTRIBUTIONS[name](rng, 15_000, shift)
    edges = reference_edges(x)
    d = numeric_drift(numeric_stats(x, edges), numeric_stats(y, edges), edges)
    raw = stats.ks_2samp(x, y).statistic
    assert d.ks <= raw + 1e-12
    assert raw <= d.ks + d.ks_error + 1e-12


def test_ks_and_its_p_value_equal_scipy_when_every_value_sits_on_an_edge() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.poisson(4.0, 30_000).astype(float), rng.poisson(4.1, 20_000).astype(float)
    edges = tuple(float(v) for v in range(0, 16))  # one bin per integer value
    d = numeric_drift(numeric_stats(x, edges), numeric_stats(y, edges), edges)
    raw = stats.ks_2samp(x, y, method="asymp")
    assert d.ks == pytest.approx(raw.statistic, abs=1e-12)
    assert d.ks_p == pytest.approx(raw.pvalue, rel=1e-9)


def test_chi2_matches_chi2_contingency_with_empty_columns_removed() -> None:
    ref, cur = [120, 0, 35, 7, 0, 240, 1], [100, 0, 50, 2, 3, 260, 9]
    d = categorical_drift(categorical_stats(ref), categorical_stats(cur))
    table = np.array([ref, cur])
    expected = stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    assert d.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert d.chi2_dof == expected.dof
    assert d.chi2_p == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi2_of_numeric_bins_matches_chi2_contingency() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.exponential(1.0, 8_000), rng.exponential(1.1, 6_000)
    edges = reference_edges(x)
    d = numeric_drift(numeric_stats(x, edges), numeric_stats(y, edges), edges)
    table = np.array([numeric_stats(x, edges).bins, numeric_stats(y, edges).bins])
    expected = stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    assert (d.chi2, d.chi2_dof) == (pytest.approx(expected.statistic, rel=1e-12), expected.dof)
    assert d.chi2_p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("ref", "cur"), [
    ([500, 300, 200, 0], [300, 500, 150, 50]),
    ([1, 0, 0, 9], [0, 4, 0, 1]),
    ([10, 10, 10, 10], [10, 10, 10, 10]),
])
def test_js_matches_scipy_jensenshannon_base_2(ref: list[int], cur: list[int]) -> None:
    d = categorical_drift(categorical_stats(ref), categorical_stats(cur))
    assert d.js == pytest.approx(jensenshannon(ref, cur, base=2), abs=1e-12)


def test_js_of_numeric_bins_matches_scipy() -> None:
    rng = np.random.default_rng(8)
    x, y = rng.normal(0, 1, 10_000), rng.normal(0.3, 1.2, 10_000)
    edges = reference_edges(x)
    rs, cs = numeric_stats(x, edges), numeric_stats(y, edges)
    expected = jensenshannon(rs.bins, cs.bins, base=2)
    assert numeric_drift(rs, cs, edges).js == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_wasserstein_is_within_its_stated_bound_of_scipy_on_raw_data(name: str) -> None:
    rng = np.random.default_rng(21)
    x, y = DISTRIBUTIONS[name](rng, 20_000, 0.0), DISTRIBUTIONS[name](rng, 20_000, 0.2)
    edges = reference_edges(x)
    d = numeric_drift(numeric_stats(x, edges), numeric_stats(y, edges), edges)
    sd = float(np.std(x, ddof=1))
    raw = stats.wasserstein_distance(x, y) / sd
    assert abs(d.wasserstein - raw) <= d.wasserstein_error


def test_wasserstein_is_close_to_scipy_when_bins_are_narrow() -> None:
    # 200 equal bins over [0, 1]: every value is within half a bin width (0.0025) of its point
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 1, 50_000), rng.beta(1.3, 1.0, 50_000)
    edges = tuple(float(e) for e in np.linspace(0, 1, 201))
    d = numeric_drift(numeric_stats(x, edges), numeric_stats(y, edges), edges)
    sd = float(np.std(x, ddof=1))
    width = 1 / 200
    assert d.wasserstein_error <= width / sd + 1e-12
    assert d.wasserstein == pytest.approx(stats.wasserstein_distance(x, y) / sd, abs=width / sd)


def test_psi_matches_the_direct_formula_on_raw_data() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.gamma(2.0, 1.0, 12_000), rng.gamma(2.2, 1.0, 9_000)
    edges = reference_edges(x)
    grid = np.r_[-np.inf, edges, np.inf]
    r, c = np.histogram(x, bins=grid)[0], np.histogram(y, bins=grid)[0]
    kept = [(a, b) for a, b in zip(r, c, strict=True) if a + b > 0]
    k = len(kept)
    direct = 0.0
    for a, b in kept:
        p = (a + PSI_PSEUDOCOUNT) / (x.size + PSI_PSEUDOCOUNT * k)
        q = (b + PSI_PSEUDOCOUNT) / (y.size + PSI_PSEUDOCOUNT * k)
        direct += (q - p) * math.log(q / p)
    d = numeric_drift(numeric_stats(x, edges), numeric_stats(y, edges), edges)
    assert d.psi == pytest.approx(direct, rel=1e-12)


def test_psi_of_many_categories_under_no_change_is_about_k_minus_1_over_n_but_the_effect_is_zero() -> None:
    # the inflation the decision corrects: E[PSI] ≈ (k - 1)(1/n_ref + 1/n_cur) when nothing changed
    rng = np.random.default_rng(2)
    k, n = 200, 40_000
    probabilities = np.full(k, 1 / k)
    psi, corrected = [], []
    for _ in range(100):
        ref, cur = rng.multinomial(n, probabilities), rng.multinomial(n, probabilities)
        d = categorical_drift(categorical_stats(np.append(ref, 0)), categorical_stats(np.append(cur, 0)))
        psi.append(d.psi)
        corrected.append(d.divergence - d.noise)
    assert np.mean(psi) == pytest.approx((k - 1) * 2 / n, rel=0.05)
    assert abs(np.mean(corrected)) < 3 * np.std(corrected) / math.sqrt(len(corrected))


def test_bias_correction_is_exact_for_sparse_tables() -> None:
    # 3,000 categories with expected counts from about 0.1 up: the noise subtracted is what the
    # divergence averages when nothing changed
    rng = np.random.default_rng(12)
    k, n = 3_000, 20_000
    weights = 1.0 / np.arange(1, k + 1)
    probabilities = weights / weights.sum()
    corrected = []
    for _ in range(300):
        ref, cur = rng.multinomial(n, probabilities), rng.multinomial(2 * n, probabilities)
        d = categorical_drift(categorical_stats(np.append(ref, 0)), categorical_stats(np.append(cur, 0)))
        corrected.append(d.divergence - d.noise)
    assert abs(np.mean(corrected)) < 3 * np.std(corrected) / math.sqrt(len(corrected))


# --------------------------------------------------------------------------- the decision


def test_identical_distributions_give_zero_psi_and_are_not_flagged() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=10_000)
    edges = reference_edges(x)
    s = numeric_stats(x, edges)
    cat = categorical_stats([400, 300, 200, 100, 0])
    ref, cur, binning = profiles({"x": (s, s, edges)}, {"c": (cat, cat)})
    report = drift_report(ref, cur, binning)
    assert [d.stats.psi for d in report] == [0.0, 0.0]
    assert [d.stats.effect for d in report] == [0.0, 0.0]
    assert not any(d.drifted or d.significant for d in report)


def test_false_alarm_rate_under_no_change_is_at_most_5_percent() -> None:
    rng = np.random.default_rng(2026)
    n, runs, k = 50_000, 200, 2_000
    flagged = significant = 0
    for _ in range(runs):
        x, y = rng.lognormal(0.0, 1.0, n), rng.lognormal(0.0, 1.0, n)
        edges = reference_edges(x)
        cat_ref, cat_cur = category_counts(zipf(rng, k, n), zipf(rng, k, n), k)
        ref, cur, binning = profiles({"x": (numeric_stats(x, edges), numeric_stats(y, edges), edges)},
                                     {"c": (cat_ref, cat_cur)})
        report = drift_report(ref, cur, binning)
        flagged += any(d.drifted for d in report)
        significant += any(d.significant for d in report)
    assert flagged / runs <= 0.05, f"{flagged} of {runs} runs flagged (test significant in {significant})"


def test_a_tiny_shift_in_a_huge_sample_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.0, 1.0, 2_000_000), rng.normal(0.03, 1.0, 2_000_000)
    edges = reference_edges(x)
    ref, cur, binning = profiles({"x": (numeric_stats(x, edges), numeric_stats(y, edges), edges)}, {})
    (d,) = drift_report(ref, cur, binning)
    assert d.p_value < 1e-10 and d.significant
    assert d.effect < MIN_EFFECT and not d.drifted


def test_shifts_of_a_fifth_of_a_standard_deviation_are_drift() -> None:
    rng = np.random.default_rng(6)
    x, y = rng.normal(0.0, 1.0, 30_000), rng.normal(0.2, 1.0, 30_000)
    edges = reference_edges(x)
    cat_ref, cat_cur = category_counts(zipf(rng, 30, 30_000), zipf(rng, 30, 30_000, exponent=1.3), 30)
    ref, cur, binning = profiles({"x": (numeric_stats(x, edges), numeric_stats(y, edges), edges)},
                                 {"c": (cat_ref, cat_cur)})
    report = drift_report(ref, cur, binning)
    assert [d.drifted for d in report] == [True, True]
    # a normal mean shift of d standard deviations has PSI d² (0.04 here), less what binning loses
    assert 0.03 < report[0].effect < 0.045


def test_a_new_value_taking_a_share_of_current_is_drift() -> None:
    ref = categorical_stats([5_000, 3_000, 2_000, 0])
    cur = categorical_stats([4_500, 2_700, 1_800, 1_000])  # 10% of current is a value the reference lacks
    a, b, binning = profiles({}, {"c": (ref, cur)})
    (d,) = drift_report(a, b, binning)
    assert d.drifted and d.effect > 0.1


def test_min_effect_raises_the_bar() -> None:
    ref = categorical_stats([5_000, 5_000, 0])
    cur = categorical_stats([5_800, 4_200, 0])
    a, b, binning = profiles({}, {"c": (ref, cur)})
    assert drift_report(a, b, binning)[0].drifted
    assert not drift_report(a, b, binning, min_effect=0.1)[0].drifted


def test_benjamini_hochberg_runs_across_all_features() -> None:
    # one feature alone passes; among many features with no change its p-value no longer survives
    ref = categorical_stats([5_000, 5_000, 0])
    cur = categorical_stats([5_000 + 177, 5_000 - 177, 0])
    same = {f"quiet_{i}": (ref, ref) for i in range(40)}
    alone = drift_report(*profiles({}, {"c": (ref, cur)}), min_effect=0.0)
    among = drift_report(*profiles({}, {"c": (ref, cur), **same}), min_effect=0.0)
    assert 0.0025 < alone[0].p_value < 0.05 and alone[0].significant
    assert not among[0].significant


def test_an_empty_side_gives_no_test_and_no_flag() -> None:
    edges = (0.0, 1.0)
    ref = numeric_stats(np.array([0.2, 0.5, 0.7]), edges)
    a, b, binning = profiles({"x": (ref, NumericStats.empty(3), edges)}, {})
    (d,) = drift_report(a, b, binning)
    assert math.isnan(d.p_value) and math.isnan(d.stats.psi)
    assert (d.stats.n_ref, d.stats.n_cur, d.drifted) == (3, 0, False)


def test_report_lists_numeric_then_categorical_features_in_binning_order() -> None:
    edges = (0.0, 1.0)
    s = numeric_stats(np.array([0.2, 0.5]), edges)
    cat = categorical_stats([3, 1, 0])
    report = drift_report(*profiles({"b": (s, s, edges), "a": (s, s, edges)}, {"z": (cat, cat)}))
    assert [(d.feature, d.kind) for d in report] == [("b", "numeric"), ("a", "numeric"), ("z", "categorical")]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fdr": 0.0}, "fdr must be in (0, 1); got 0.0"),
    ({"fdr": 1.5}, "fdr must be in (0, 1); got 1.5"),
    ({"min_effect": -0.1}, "min_effect must be a finite number >= 0; got -0.1"),
    ({"min_effect": math.inf}, "min_effect must be a finite number >= 0; got inf"),
])
def test_drift_report_rejects_bad_parameters(kwargs: dict[str, float], message: str) -> None:
    cat = categorical_stats([3, 1, 0])
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        drift_report(*profiles({}, {"c": (cat, cat)}), **kwargs)


def test_drift_report_rejects_profiles_of_another_binning() -> None:
    cat = categorical_stats([3, 1, 0])
    ref, cur, _ = profiles({}, {"c": (cat, cat)})
    other = Binning(numeric={}, categorical={"c": ("x", "y")}, score=(0.5,))
    with pytest.raises(ValueError, match="the reference profile was binned with"):
        drift_report(ref, cur, other)


def test_drift_report_rejects_hour_of_day_profiles() -> None:
    cat = categorical_stats([3, 1, 0])
    ref, cur, binning = profiles({}, {"c": (cat, cat)})
    with pytest.raises(ValueError, match="the current profile holds no feature bins"):
        drift_report(ref, replace(cur, binned=False), binning)


def test_drift_report_names_a_feature_missing_from_a_profile() -> None:
    cat = categorical_stats([3, 1, 0])
    ref, cur, binning = profiles({}, {"c": (cat, cat)})
    with pytest.raises(ValueError, match="feature 'c' is in the binning but missing from a profile"):
        drift_report(ref, replace(cur, categorical={}), binning)


def test_numeric_drift_rejects_edges_that_do_not_fit_the_bins() -> None:
    s = numeric_stats(np.array([0.2, 0.5]), (0.0, 1.0))
    with pytest.raises(ValueError, match="ref has 3 bins but 3 edges make 4"):
        numeric_drift(s, s, (0.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="edges must be strictly increasing"):
        numeric_drift(s, s, (1.0, 0.0))


def test_categorical_drift_rejects_different_categories() -> None:
    with pytest.raises(ValueError, match="ref has 3 category counts and cur 4"):
        categorical_drift(categorical_stats([1, 2, 0]), categorical_stats([1, 2, 3, 0]))
