"""Label-free estimates: AUC, precision, recall and value of a window before its labels arrive.

The reference's labelled score histogram gives, per score bin, the share of
positives; a monotone (isotonic) fit of it, weighted by the labelled rows per
bin, is the calibration ``P(positive | score bin)`` (pool-adjacent-violators:
Ayer, Brunk, Ewing, Reid & Silverman 1955; scikit-learn's
``IsotonicRegression``). A window's score histogram of *all* its decisions,
labelled or not, then gives expected confusion counts at the threshold
(expected positives in bin ``b``: ``n_b·p_b``) and expected positive and
negative score distributions, from which the AUC follows as for labelled data.
This is the idea of confidence-based performance estimation (NannyML's CBPE),
computed here from profiles alone.

The intervals come from a parametric bootstrap with a fixed seed: each draw
refits the calibration on a multinomial resample of the reference's labelled
cells, then draws each bin's positives as ``Binomial(n_b, p*_b)``. They are
prediction intervals for the metric the window's labels will show once they
arrive (calibration uncertainty plus the labels' own noise), percentile
intervals of the draws.

The estimates assume that ``P(positive | score)`` has not changed since the
reference: they follow shifts of the score distribution (covariate shift), not
a change of what a score means (concept shift, e.g. a new fraud pattern the
model does not see, or a new label definition). Compare them with the realized
values once the labels exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import isotonic_regression

from loopwatch.core.spec import ValueModel
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.metrics import Metric, label_rows

__all__ = ["ESTIMATED_METRICS", "Calibration", "estimate_metrics", "fit_calibration"]

Floats = npt.NDArray[np.float64]

#: The metrics :func:`estimate_metrics` estimates (``value_per_decision`` with a value model).
ESTIMATED_METRICS = ("roc_auc", "precision", "recall", "false_positive_rate", "base_rate",
                     "value_per_decision")


@dataclass(frozen=True, eq=False)
class Calibration:
    """``P(positive)`` per score bin fitted on the reference's labelled rows, with bootstrap refits.

    ``probability`` has one entry per score bin; ``draws`` has one row per
    bootstrap refit; ``positive_value`` is the mean outcome value of the
    reference's positives per bin (their overall mean where a bin has none);
    ``labelled`` and ``positives`` count the rows it was fitted on.
    """

    probability: Floats
    draws: Floats
    positive_value: Floats
    labelled: int
    positives: int


def _isotonic(rates: Floats, weights: Floats) -> Floats:
    """The isotonic fit of ``rates`` over the bins, read back at every bin (bins of weight 0 included).

    The same numbers as scikit-learn's ``IsotonicRegression(y_min=0, y_max=1,
    out_of_bounds="clip").fit(x, rates, weights).predict(x)`` on the bins of
    positive weight ``x`` (``tests/evaluation/test_label_free.py`` compares them),
    computed as it computes them: the weighted mean of each point (``rate·w/w``),
    scipy's pool-adjacent-violators, a clip to [0, 1], then linear interpolation
    over the empty bins and the end values beyond the outermost ones. Called
    directly, without the estimator's input checks, which took 90% of
    ``evaluate``'s time for a few hundred bins (docs/DESIGN-NOTES.md, "evaluate's speed").
    """
    used = weights > 0
    if np.count_nonzero(used) < 2:
        total = float(weights.sum())
        return np.full(rates.size, float(rates[used] @ weights[used]) / total if total else math.nan)
    w = weights[used]
    fitted = np.asarray(isotonic_regression(rates[used] * w / w, weights=w, increasing=True).x,
                        dtype=np.float64)
    np.clip(fitted, 0.0, 1.0, out=fitted)
    out: Floats = np.interp(np.arange(rates.size, dtype=np.float64),
                            np.flatnonzero(used).astype(np.float64), fitted)
    return out


def fit_calibration(by_label: npt.ArrayLike, *, value_sum: npt.ArrayLike | None = None, draws: int = 200,
                    seed: int = 0) -> Calibration:
    """Fit ``P(positive | score bin)`` on a reference's labelled score histogram.

    Parameters
    ----------
    by_label
        The reference's :attr:`~loopwatch.core.profile.ScoreStats.by_label`.
    value_sum
        Its ``value_sum`` (same shape), for the value estimate; without it values are 0.
    draws
        Bootstrap refits for the intervals (at least 20).
    seed
        Seed of the bootstrap; the same seed gives the same intervals.

    Raises
    ------
    ValueError
        The reference holds no labelled positive or no labelled negative.

    Examples
    --------
    >>> calibration = fit_calibration([[90, 60, 30, 5], [1, 6, 20, 45]], draws=50)
    >>> [round(float(p), 3) for p in calibration.probability]
    [0.011, 0.091, 0.4, 0.9]
    >>> calibration.draws.shape, calibration.positives
    ((50, 4), 72)
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 20:
        raise ValueError(f"draws must be an integer >= 20; got {draws!r}")
    neg, pos = label_rows(by_label)
    labelled = neg + pos
    n, positives = float(labelled.sum()), float(pos.sum())
    if positives == 0 or positives == n:
        raise ValueError(f"the reference needs labelled positives and negatives to calibrate on; got "
                         f"{positives:.0f} positives of {n:.0f} labelled rows")
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(labelled > 0, pos / labelled, 0.0)
    probability = _isotonic(rates, labelled)
    rng = np.random.default_rng(seed)
    cells = np.concatenate((neg, pos)) / n
    refits = np.empty((draws, neg.size))
    for d in range(draws):
        resampled = rng.multinomial(round(n), cells).astype(np.float64)
        neg_d, pos_d = resampled[: neg.size], resampled[neg.size:]
        total_d = neg_d + pos_d
        with np.errstate(invalid="ignore", divide="ignore"):
            refits[d] = _isotonic(np.where(total_d > 0, pos_d / total_d, 0.0), total_d)
    mean_value = np.zeros(neg.size)
    if value_sum is not None:
        values = np.asarray(value_sum, dtype=np.float64)
        if values.shape[1:] != (neg.size,) or values.shape[0] not in (2, 3):
            raise ValueError(f"value_sum must have the shape of by_label; got shape {values.shape}")
        overall = float(values[1].sum()) / positives
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_value = np.where(pos > 0, values[1] / pos, overall)
    return Calibration(probability=probability, draws=refits, positive_value=mean_value,
                       labelled=round(n), positives=round(positives))


def _metrics(pos: Floats, neg: Floats, flagged: npt.NDArray[np.bool_], value: Floats,
             model: ValueModel | None) -> dict[str, Floats]:
    """Metrics of expected (or drawn) positive and negative histograms; the last axis is the bins."""
    p, n = pos.sum(axis=-1), neg.sum(axis=-1)
    tp, fp = pos[..., flagged].sum(axis=-1), neg[..., flagged].sum(axis=-1)
    below = np.cumsum(neg, axis=-1) - neg  # negatives in lower bins
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "roc_auc": (pos * (below + 0.5 * neg)).sum(axis=-1) / (p * n),
            "precision": tp / (tp + fp),
            "recall": tp / p,
            "false_positive_rate": fp / n,
            "base_rate": p / (p + n),
        }
        if model is not None:
            gain = (pos[..., flagged] * (model.true_positive + model.true_positive_value_share
                                         * value[flagged])).sum(axis=-1)
            loss = (pos[..., ~flagged] * (model.false_negative + model.false_negative_value_share
                                          * value[~flagged])).sum(axis=-1)
            out["value_per_decision"] = (gain - model.false_positive * fp - loss) / (p + n)
    return out


def estimate_metrics(counts: npt.ArrayLike, calibration: Calibration, *, bins: ScoreBins, threshold: float,
                     value_model: ValueModel | None = None, confidence: float = 0.95,
                     seed: int = 0) -> dict[str, Metric]:
    """Estimate a window's metrics from its score histogram alone, each with a prediction interval.

    Parameters
    ----------
    counts
        Decisions per score bin, labelled or not (``by_label.sum(axis=0)``).
    calibration
        From :func:`fit_calibration` on the reference.
    bins
        The score bins of the binning.
    threshold
        Decisions are ``score >= threshold`` (snapped to a bin edge).
    value_model
        With one, ``value_per_decision`` is estimated too (per decision, as
        :func:`~loopwatch.evaluation.comparison.value_per_decision` measures it).
    confidence
        Level of the intervals.
    seed
        Seed of the label draws.

    Returns
    -------
    dict of str to Metric
        ``roc_auc``, ``precision``, ``recall``, ``false_positive_rate``,
        ``base_rate`` (and ``value_per_decision``); ``n`` is the window's decisions.

    Examples
    --------
    >>> calibration = fit_calibration([[900, 600, 300, 50], [10, 60, 200, 450]])
    >>> bins = ScoreBins.from_edges((0.25, 0.5, 0.75), lowest=0.0)
    >>> same = estimate_metrics([910, 660, 500, 500], calibration, bins=bins, threshold=0.5)
    >>> precision = same["precision"]   # the reference's realized precision was 0.65
    >>> round(precision.value, 3), 0.6 < precision.low < 0.65 < precision.high < 0.7
    (0.65, True)
    >>> riskier = estimate_metrics([610, 460, 500, 1000], calibration, bins=bins, threshold=0.5)
    >>> riskier["base_rate"].value > same["base_rate"].value
    True
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    n_b = np.asarray(counts, dtype=np.float64)
    if n_b.ndim == 2:  # a by_label array: all its rows are decisions
        n_b = n_b.sum(axis=0)
    if n_b.ndim != 1 or n_b.size != len(bins) or n_b.size != calibration.probability.size:
        raise ValueError(f"counts must hold one count per score bin ({len(bins)}); got shape {n_b.shape}")
    if not np.all(np.isfinite(n_b)) or np.any(n_b < 0):
        raise ValueError("counts must be non-negative and finite")
    flagged = bins.flagged(threshold)
    total = round(float(n_b.sum()))
    p = calibration.probability
    point = _metrics(n_b * p, n_b * (1 - p), flagged, calibration.positive_value, value_model)
    rng = np.random.default_rng(seed)
    drawn_pos = rng.binomial(n_b.astype(np.int64), np.clip(calibration.draws, 0.0, 1.0)).astype(np.float64)
    drawn = _metrics(drawn_pos, n_b - drawn_pos, flagged, calibration.positive_value, value_model)
    tail = (1 - confidence) / 2
    out: dict[str, Metric] = {}
    for name, value in point.items():
        sample = drawn[name][np.isfinite(drawn[name])]
        v = float(value)
        if not math.isfinite(v) or sample.size < 0.5 * drawn[name].size:
            out[name] = Metric(name, v, math.nan, math.nan, total)
            continue
        low, high = (float(q) for q in np.quantile(sample, [tail, 1 - tail]))
        out[name] = Metric(name, v, min(low, v), max(high, v), total)
    return out
