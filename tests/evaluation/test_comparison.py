"""Comparisons: healthy periods stay quiet, real drops are found where they happen, tests hold their size."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from scipy import special

from loopwatch.core.findings import Severity
from loopwatch.core.profile import ALL, Binning, Cohort, Profile, ScoreStats, score_bin, score_edges
from loopwatch.core.spec import Spec, spec_from_mapping
from loopwatch.core.window import Window
from loopwatch.evaluation.comparison import (
    DEFAULT_MIN_EFFECTS,
    MinimumEffect,
    compare,
    compare_metrics,
)
from loopwatch.simulate.population import healthy_rate, power

DAY = datetime(2026, 3, 1, tzinfo=UTC)
TWO_BINS = Binning(numeric={}, categorical={}, score=(0.5,))
UNIFORM = Binning(numeric={}, categorical={}, score=score_edges(None, 0.0, 1.0))


def make_spec(**extra: object) -> Spec:
    return spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
                              "threshold": 0.5, **extra})


def profile(by_label: npt.ArrayLike, *, binning: Binning = TWO_BINS, cohort: Cohort = ALL,
            value_sum: npt.ArrayLike | None = None, value_sq: npt.ArrayLike | None = None) -> Profile:
    counts = np.asarray(by_label, dtype=np.int64)
    zeros = np.zeros(counts.shape)
    stats = ScoreStats(counts, counts.sum(axis=0, keepdims=True),
                       zeros if value_sum is None else np.asarray(value_sum, dtype=np.float64),
                       zeros if value_sq is None else np.asarray(value_sq, dtype=np.float64))
    return replace(binning.empty(DAY, DAY, cohort), n=int(counts.sum()), score=stats)


def confusion(tp: int, fn: int, fp: int, tn: int, unlabelled: tuple[int, int] = (0, 0)) -> list[list[int]]:
    """``by_label`` over two score bins (below, at or above the threshold)."""
    return [[tn, fp], [fn, tp], list(unlabelled)]


# --------------------------------------------------------------------------- healthy and broken periods


def test_identical_windows_give_no_finding() -> None:
    window = {ALL: profile(confusion(400, 300, 100, 90_000))}
    assert compare(window, window, TWO_BINS, make_spec(), window=window[ALL].window) == []


def test_healthy_periods_drawn_from_one_population_rarely_raise_any_finding() -> None:
    # 40 periods × 33 cohorts × 6 metrics; benchmarks/eval_false_alarms.py runs 200
    rate, periods = healthy_rate(draws=40, seed=11)
    assert rate <= 0.05, [f.message for p in periods for f in p.findings]


def test_a_drop_in_a_two_percent_cohort_is_found_where_the_global_cohort_alone_stays_quiet() -> None:
    # 2% of AFR's decisions become fraud the model misses: its recall falls from 0.54 to about
    # 0.2, the global AUC by about 0.017 and recall by 4%, within the minimum effects
    found, global_alone = power(draws=15, seed=12, drop=0.02)
    assert found >= 0.8
    assert global_alone <= 0.1


# --------------------------------------------------------------------------- the tests' size at the margin


@pytest.mark.parametrize("n_positives", [40, 400])
def test_recall_at_exactly_the_minimum_effect_is_rejected_about_five_percent_of_the_time(
        n_positives: int) -> None:
    # current recall = reference recall × (1 - 10%): the boundary of the null hypothesis
    rng = np.random.default_rng(n_positives)
    spec = make_spec(monitoring={"min_decisions": 1})
    rejected = 0
    draws = 1000
    for _ in range(draws):
        tp_r = rng.binomial(4 * n_positives, 0.6)
        tp_c = rng.binomial(n_positives, 0.54)
        ref = profile(confusion(tp_r, 4 * n_positives - tp_r, 50, 50_000))
        cur = profile(confusion(tp_c, n_positives - tp_c, 50, 50_000))
        comparisons = compare_metrics({ALL: ref}, {ALL: cur}, TWO_BINS, spec)
        (found,) = [c for c in comparisons if c.metric == "recall"]
        rejected += found.p_value < 0.05
    # binomial sd of the rate is 0.7 points; the Wald statistic is a little liberal with 40 positives
    assert 0.025 <= rejected / draws <= 0.08


def binormal_window(rng: np.random.Generator, n_pos: int, n_neg: int, shift: float) -> Profile:
    scores = np.concatenate([rng.normal(shift, 1, n_pos), rng.normal(0, 1, n_neg)])
    b = score_bin(special.expit(scores), UNIFORM.score)
    by_label = np.zeros((3, 1000), np.int64)
    np.add.at(by_label[1], b[:n_pos], 1)
    np.add.at(by_label[0], b[n_pos:], 1)
    return profile(by_label, binning=UNIFORM)


def test_auc_at_exactly_the_minimum_effect_is_rejected_about_five_percent_of_the_time() -> None:
    # binormal AUCs Φ(δ/√2): 0.85 in the reference, 0.83 now (the 0.02 margin)
    from scipy import stats

    shift_ref = math.sqrt(2) * stats.norm.ppf(0.85)
    shift_cur = math.sqrt(2) * stats.norm.ppf(0.83)
    rng = np.random.default_rng(5)
    spec = make_spec()
    draws, rejected = 600, 0
    for _ in range(draws):
        ref = binormal_window(rng, 600, 3000, shift_ref)
        cur = binormal_window(rng, 300, 1500, shift_cur)
        (auc,) = [c for c in compare_metrics({ALL: ref}, {ALL: cur}, UNIFORM, spec) if c.metric == "roc_auc"]
        rejected += auc.p_value < 0.05
    assert 0.025 <= rejected / draws <= 0.08


# --------------------------------------------------------------------------- what is and is not compared


def test_a_window_whose_chargebacks_are_pending_is_immature_and_never_a_finding() -> None:
    reference = profile(confusion(600, 400, 100, 90_000, unlabelled=(2_000, 50)))
    # legitimate transactions confirmed (97% coverage overall) but most flagged rows unlabelled,
    # and recall collapsed among the few labelled positives
    pending = profile(confusion(50, 400, 20, 90_000, unlabelled=(2_000, 630)))
    comparisons = compare_metrics({ALL: reference}, {ALL: pending}, TWO_BINS, make_spec())
    assert {c.status for c in comparisons} == {"immature"}
    assert comparisons[0].maturity.coverage > 0.9 * comparisons[0].maturity.reference_coverage
    assert compare({ALL: reference}, {ALL: pending}, TWO_BINS, make_spec(), window=pending.window) == []


def test_a_cohort_with_a_handful_of_positives_is_not_alarmed_on() -> None:
    small = Cohort("region", "AFR")
    reference = {ALL: profile(confusion(600, 400, 100, 90_000)),
                 small: profile(confusion(50, 50, 10, 9_000), cohort=small)}
    current = {ALL: profile(confusion(600, 400, 100, 90_000)),
               small: profile(confusion(0, 3, 0, 900), cohort=small)}   # 0 of 3 caught
    comparisons = compare_metrics(reference, current, TWO_BINS, make_spec())
    recall = next(c for c in comparisons if c.cohort == small and c.metric == "recall")
    assert recall.status == "compared" and recall.current.value == 0.0
    assert recall.p_value > 0.05
    assert compare(reference, current, TWO_BINS, make_spec(), window=current[ALL].window) == []


def test_cohorts_with_fewer_labelled_decisions_than_min_decisions_are_not_tested() -> None:
    reference = {ALL: profile(confusion(6, 4, 1, 9))}
    comparisons = compare_metrics(reference, reference, TWO_BINS, make_spec())
    assert {c.status for c in comparisons} == {"too_few"}
    assert all(math.isnan(c.p_value) for c in comparisons)


# --------------------------------------------------------------------------- severity and fields


def test_worse_recall_pages_and_a_higher_false_positive_rate_warns() -> None:
    reference = {ALL: profile(confusion(6_000, 4_000, 1_000, 900_000))}
    current = {ALL: profile(confusion(4_000, 6_000, 2_000, 900_000))}
    found = compare(reference, current, TWO_BINS, make_spec(), window=current[ALL].window)
    findings = {f.statistic: f for f in found}
    assert findings["recall"].severity == Severity.PAGE
    assert findings["precision"].severity == Severity.PAGE
    assert findings["false_positive_rate"].severity == Severity.WARNING
    assert "base_rate" not in findings  # the base rate did not move


def test_a_base_rate_shift_warns_in_either_direction() -> None:
    reference = {ALL: profile(confusion(600, 400, 100, 90_000))}
    for scale in (2, 0.4):
        positives = round(1000 * scale)
        caught = int(0.6 * positives)
        current = {ALL: profile(confusion(caught, positives - caught, 100, 90_000))}
        found = compare(reference, current, TWO_BINS, make_spec(), window=current[ALL].window)
        assert [(f.statistic, f.severity) for f in found if f.statistic == "base_rate"] == [
            ("base_rate", Severity.WARNING)]


def test_a_drop_in_value_per_decision_pages() -> None:
    spec = make_spec(value={"false_positive": 10.0, "false_negative": 0.0})
    ref_counts, cur_counts = confusion(6_000, 4_000, 1_000, 90_000), confusion(6_000, 4_000, 1_000, 90_000)
    # caught fraud is worth $100 on average in the reference and $50 now (values per cell)
    ref = profile(ref_counts, value_sum=[[0, 0], [4e5, 6e5], [0, 0]], value_sq=[[0, 0], [4e7, 1.2e8], [0, 0]])
    cur = profile(cur_counts, value_sum=[[0, 0], [4e5, 3e5], [0, 0]], value_sq=[[0, 0], [4e7, 3e7], [0, 0]])
    found = {f.statistic: f for f in compare({ALL: ref}, {ALL: cur}, TWO_BINS, spec, window=cur.window)}
    assert found["value_per_decision"].severity == Severity.PAGE
    assert found["value_per_decision"].value == pytest.approx((3e5 - 10 * 1_000 - 4e5) / 101_000)


def test_a_net_loss_per_decision_that_did_not_change_never_pages_and_a_larger_loss_does() -> None:
    # missed fraud costs more than caught fraud earns: the value per decision is negative
    spec = make_spec(value={"false_positive": 10.0, "false_negative": 50.0})
    counts = confusion(2_000, 8_000, 1_000, 489_000)
    ref = profile(counts, value_sum=[[0, 0], [8e5, 2e5], [0, 0]], value_sq=[[0, 0], [1.6e8, 4e7], [0, 0]])
    same = compare({ALL: ref}, {ALL: ref}, TWO_BINS, spec, window=ref.window)
    assert [f.statistic for f in same if f.statistic == "value_per_decision"] == []
    # 30% more lost per missed positive: the loss per decision grows by more than the 10% minimum effect
    worse = profile(counts, value_sum=[[0, 0], [1.04e6, 2e5], [0, 0]],
                    value_sq=[[0, 0], [2.7e8, 4e7], [0, 0]])
    found = {f.statistic: f for f in compare({ALL: ref}, {ALL: worse}, TWO_BINS, spec, window=worse.window)}
    assert found["value_per_decision"].severity == Severity.PAGE and found["value_per_decision"].impact < 0


def test_findings_carry_the_current_interval_the_reference_and_json_safe_evidence() -> None:
    small = Cohort("region", "EU")
    reference = {ALL: profile(confusion(6_000, 4_000, 1_000, 900_000)),
                 small: profile(confusion(600, 400, 100, 90_000), cohort=small)}
    current = {ALL: profile(confusion(6_000, 4_000, 1_000, 900_000)),
               small: profile(confusion(300, 700, 100, 90_000), cohort=small)}
    (finding,) = [f for f in compare(reference, current, TWO_BINS, make_spec(), window=current[ALL].window)
                  if f.statistic == "recall"]
    assert (finding.kind, finding.check, finding.cohort) == ("performance", "performance", "region=EU")
    assert finding.value == pytest.approx(0.3) and finding.threshold == pytest.approx(0.6)
    assert finding.interval is not None and finding.interval[0] < 0.3 < finding.interval[1]
    assert finding.impact == pytest.approx(-0.3) and finding.n == 1000
    assert set(finding.evidence) >= {"p_value", "reference_interval", "label_coverage"}
    assert finding.evidence["p_value"] < 1e-6
    assert "recall for region=EU fell to 30.0%" in finding.message
    json.dumps(finding.to_dict(), allow_nan=False)


# --------------------------------------------------------------------------- parameters


def test_min_effects_override_the_defaults_and_unknown_metrics_are_refused() -> None:
    reference = {ALL: profile(confusion(6_000, 4_000, 1_000, 900_000))}
    current = {ALL: profile(confusion(5_000, 5_000, 1_000, 900_000))}   # recall -17%
    spec = make_spec()
    assert any(f.statistic == "recall" for f in compare(reference, current, TWO_BINS, spec, window=DAY_SPAN))
    lenient = {"recall": MinimumEffect(0.3, relative=True)}
    assert not any(f.statistic == "recall" for f in compare(reference, current, TWO_BINS, spec,
                                                            window=DAY_SPAN, min_effects=lenient))
    with pytest.raises(ValueError, match="unknown metric 'recal' in min_effects"):
        compare(reference, current, TWO_BINS, spec, window=DAY_SPAN,
                min_effects={"recal": MinimumEffect(0.1)})
    assert set(DEFAULT_MIN_EFFECTS) == {"roc_auc", "recall", "precision", "value_per_decision",
                                        "false_positive_rate", "base_rate"}


def test_profiles_of_another_binning_are_refused() -> None:
    window = {ALL: profile(confusion(6, 4, 1, 9))}
    with pytest.raises(ValueError, match="profile both windows against one reference"):
        compare_metrics(window, window, UNIFORM, make_spec())
    with pytest.raises(ValueError, match="fdr must be in"):
        compare_metrics(window, window, TWO_BINS, make_spec(), fdr=0.0)
    with pytest.raises(ValueError, match="relative size must be < 1"):
        MinimumEffect(1.5, relative=True)


DAY_SPAN = Window(DAY, DAY)


def test_value_per_decision_of_a_cohort_below_the_floor_is_not_enough_data_and_never_tested() -> None:
    spec = make_spec(value={"false_positive": 10.0, "false_negative": 50.0})
    ref = profile(confusion(2_000, 8_000, 1_000, 489_000), value_sum=[[0, 0], [8e5, 2e5], [0, 0]],
                  value_sq=[[0, 0], [1.6e8, 4e7], [0, 0]])
    thin = profile(confusion(3, 9, 40, 4_000), value_sum=[[0, 0], [5e3, 100], [0, 0]],
                   value_sq=[[0, 0], [3e6, 4e3], [0, 0]])
    (value,) = [c for c in compare_metrics({ALL: ref}, {ALL: thin}, TWO_BINS, spec)
                if c.metric == "value_per_decision"]
    assert value.current.status == "not_enough_data" and "12 labelled positives" in value.current.reason
    assert value.status == "compared" and math.isnan(value.p_value)
