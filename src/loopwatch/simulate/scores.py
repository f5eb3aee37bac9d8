"""Populations of scored, labelled decisions whose binned metrics are known exactly.

A :class:`ScorePopulation` is what a window's score × label histogram is drawn
from: the share of positives and, for each class, the probability of each score
bin of a binning (by default the profile's 1,000 uniform bins). Its population
metrics (ROC AUC, recall, precision, calibration...) are exact for the binned
estimand, so an interval computed from a drawn histogram can be checked against
the truth, and a threshold or a check can be tried on data whose answer is
known. Draws are histograms (multinomial counts per class), as cheap at 50,000
decisions as at 300; :meth:`ScorePopulation.window` adds labels that are
missing at random, actions and dollar values for the metrics that need them.

The families:

* :func:`binormal`: a latent ``z`` that is ``N(0, 1)`` for negatives and
  ``N(separation, 1)`` for positives, mapped to a score by a logistic link (the
  textbook ROC model; calibrated for one slope and intercept);
* :func:`beta_scores`: scores drawn straight from a Beta distribution per class
  (skewed, bounded, unlike any latent normal);
* :func:`latent_link`: one latent for everyone, labels from any link
  ``P(y = 1 | z)`` (e.g. complementary log-log) and a score from another
  (a misspecified model);
* :func:`mixture`: class distributions as mixtures of latents (e.g. "obvious"
  and "careful" fraud, or heavy-tailed ones);
* :meth:`ScorePopulation.tied`: the same population with its scores rounded to a
  grid (a model that outputs few distinct values).

Class distributions of a latent are turned into bin probabilities on a grid of
2^20 equal-probability cells of the latent (each cell's score taken at its
centre), which is exact to about one part in a million per bin.

Examples
--------
>>> population = binormal(separation=1.8, prevalence=0.1)
>>> round(population.roc_auc(), 4)
0.8984
>>> import numpy as np
>>> counts = population.by_label(np.random.default_rng(0), decisions=5000)
>>> counts.shape, int(counts.sum())
((2, 1000), 5000)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import special, stats

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.evaluation.bins import ScoreBins

__all__ = [
    "Latent",
    "ScorePopulation",
    "ScoreWindow",
    "beta_scores",
    "binormal",
    "latent_link",
    "mixture",
]

Floats = npt.NDArray[np.float64]
Counts = npt.NDArray[np.int64]
#: A frozen scipy distribution (``stats.norm(0, 1)``); anything with ``ppf``.
Latent = stats.rv_continuous | stats.rv_discrete | object
_CELLS = 1 << 20


@functools.cache
def _uniform_edges() -> tuple[float, ...]:
    return score_edges(None, 0.0, 1.0)


def _cells() -> Floats:
    """Centres of the equal-probability cells of the latent grid, as probabilities."""
    return (np.arange(_CELLS, dtype=np.float64) + 0.5) / _CELLS


def _masses(latent: object, score: Callable[[Floats], Floats], edges: Sequence[float],
            weight: Callable[[Floats], Floats] | None = None) -> tuple[Floats, float]:
    """Bin probabilities of ``score(z)`` for ``z ~ latent``, each cell weighted by ``weight(z)``;
    also the total weight (``E[weight(z)]``)."""
    z = np.asarray(latent.ppf(_cells()), dtype=np.float64)  # type: ignore[attr-defined]  # scipy frozen
    w = np.ones_like(z) if weight is None else np.asarray(weight(z), dtype=np.float64)
    b = score_bin(np.asarray(score(z), dtype=np.float64), edges)
    mass = np.bincount(b, weights=w, minlength=len(edges) + 1)
    total = float(w.sum())
    return mass / total, total / _CELLS


@dataclass(frozen=True, eq=False)
class ScoreWindow:
    """One drawn window: the profile's score arrays (see :class:`~loopwatch.core.profile.ScoreStats`).

    ``by_label`` rows are negative, positive, unlabelled; ``by_action`` rows the
    actions of :meth:`ScorePopulation.window` then ``other``; ``value_sum`` and
    ``value_sq`` the dollar values (and their squares) of labelled rows per label × bin.
    """

    by_label: Counts
    by_action: Counts
    value_sum: Floats
    value_sq: Floats


@dataclass(frozen=True, eq=False)
class ScorePopulation:
    """The distribution of one window's decisions over score bins, per class.

    Parameters
    ----------
    name
        A short description, for tables.
    prevalence
        Share of positives.
    negatives, positives
        Probability of each score bin for a negative and for a positive (each sums to 1).
    edges
        The inner score edges of the binning (``Binning.score``); by default the
        profile's 1,000 uniform bins on [0, 1].
    """

    name: str
    prevalence: float
    negatives: Floats
    positives: Floats
    edges: tuple[float, ...] = field(default_factory=_uniform_edges)

    def __post_init__(self) -> None:
        if not 0 < self.prevalence < 1:
            raise ValueError(f"prevalence must be in (0, 1); got {self.prevalence}")
        for name in ("negatives", "positives"):
            p = np.asarray(getattr(self, name), dtype=np.float64)
            if p.shape != (len(self.edges) + 1,) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
                raise ValueError(f"{name} must be {len(self.edges) + 1} bin probabilities summing to 1; "
                                 f"got shape {p.shape} and sum {p.sum():.6g}")
            object.__setattr__(self, name, p / p.sum())

    @property
    def bins(self) -> ScoreBins:
        """The bins' lower edges and representative scores."""
        return ScoreBins.from_edges(self.edges)

    # --- draws -------------------------------------------------------------------------------------

    def by_label(self, rng: np.random.Generator, *, decisions: int | None = None,
                 positives: int | None = None, negatives: int | None = None) -> Counts:
        """Counts per class × score bin of one window (rows negative, positive).

        Either ``decisions`` (the positives are then binomial), or the number of
        ``positives`` and ``negatives`` (a window conditioned on its class counts).
        """
        if decisions is not None:
            if positives is not None or negatives is not None:
                raise ValueError("give decisions, or positives and negatives, not both")
            positives = int(rng.binomial(decisions, self.prevalence))
            negatives = decisions - positives
        if positives is None or negatives is None or positives < 0 or negatives < 0:
            raise ValueError(f"positives and negatives must be counts >= 0; got {positives}, {negatives}")
        return np.stack([rng.multinomial(negatives, self.negatives),
                         rng.multinomial(positives, self.positives)]).astype(np.int64)

    def window(self, rng: np.random.Generator, *, decisions: int, labelled: float = 1.0,
               actions: Sequence[float] = (), value_shape: float = 2.0,
               value_scale: tuple[float, float] = (40.0, 60.0)) -> ScoreWindow:
        """One window with labels known at random (share ``labelled``), actions and dollar values.

        ``actions`` are increasing score thresholds: a decision takes action
        ``k`` (row ``k`` of ``by_action``) when its bin's lower edge is at or
        above the ``k``-th threshold and below the next (row 0 below the first).
        Each decision is worth Gamma(``value_shape``, scale) dollars, the scale
        being ``value_scale[0]`` for a negative and ``value_scale[1]`` for a positive.
        """
        if not 0 <= labelled <= 1:
            raise ValueError(f"labelled must be in [0, 1]; got {labelled}")
        counts = self.by_label(rng, decisions=decisions)
        n_bins = counts.shape[1]
        rows = np.repeat(np.tile(np.arange(n_bins), 2), counts.ravel())
        y = np.repeat(np.repeat([0, 1], n_bins), counts.ravel())
        known = rng.random(rows.size) < labelled
        value = np.where(known, rng.gamma(value_shape, np.where(y == 1, value_scale[1], value_scale[0])), 0.0)
        cell = np.where(known, y, 2) * n_bins + rows
        lower = self.bins.lower
        action = np.searchsorted(np.asarray(actions, dtype=np.float64), lower[rows], side="right")
        shape = (3, n_bins)
        return ScoreWindow(
            by_label=np.bincount(cell, minlength=3 * n_bins).reshape(shape),
            by_action=np.bincount(action * n_bins + rows, minlength=(len(actions) + 2) * n_bins)
            .reshape(len(actions) + 2, n_bins),
            value_sum=np.bincount(cell, weights=value, minlength=3 * n_bins).reshape(shape)
            .astype(np.float64),
            value_sq=np.bincount(cell, weights=value * value, minlength=3 * n_bins).reshape(shape)
            .astype(np.float64),
        )

    # --- population metrics ------------------------------------------------------------------------

    def roc_auc(self) -> float:
        """P(a positive's bin > a negative's) + ½ P(same bin): the AUC of binned scores."""
        p0, p1 = self.negatives, self.positives
        return float(p1 @ (np.cumsum(p0) - p0 / 2))

    def _flagged(self, threshold: float) -> npt.NDArray[np.bool_]:
        return self.bins.flagged(threshold)

    def recall(self, threshold: float) -> float:
        """Share of positives flagged at ``threshold`` (bins at or above it)."""
        return float(self.positives[self._flagged(threshold)].sum())

    def false_positive_rate(self, threshold: float) -> float:
        """Share of negatives flagged at ``threshold``."""
        return float(self.negatives[self._flagged(threshold)].sum())

    def precision(self, threshold: float) -> float:
        """Share of flagged decisions that are positive (NaN when nothing is flagged)."""
        tp = self.prevalence * self.recall(threshold)
        fp = (1 - self.prevalence) * self.false_positive_rate(threshold)
        return tp / (tp + fp) if tp + fp > 0 else math.nan

    def joint(self) -> tuple[Floats, Floats]:
        """P(negative, bin) and P(positive, bin)."""
        return (1 - self.prevalence) * self.negatives, self.prevalence * self.positives

    def brier_score(self) -> float:
        """Mean squared error of the bins' representative scores."""
        q0, q1 = self.joint()
        s = self.bins.scores
        return float(q1 @ (1 - s) ** 2 + q0 @ s**2)

    def log_loss(self) -> float:
        """Mean negative log-likelihood of the labels under the bins' representative scores."""
        q0, q1 = self.joint()
        s = self.bins.scores
        return float(-(q1 @ np.log(s)) - q0 @ np.log1p(-s))

    def expected_calibration_error(self, groups: int = 10) -> float:
        """``Σ_g |P(y = 1, g) - E[score; g]|`` over equal-width groups of scores (as the estimator)."""
        q0, q1 = self.joint()
        s = self.bins.scores
        group = np.searchsorted(np.linspace(0, 1, groups + 1)[1:-1], s, side="left")
        gap = np.bincount(group, weights=q1 - (q0 + q1) * s, minlength=groups)
        return float(np.abs(gap).sum())

    # --- variants ----------------------------------------------------------------------------------

    def tied(self, step: float) -> ScorePopulation:
        """The same population with every score rounded to a multiple of ``step`` (bins regrouped).

        Each bin's mass moves to the bin of its representative score rounded to
        the grid, so the grid must be coarse against the bins (e.g. 0.05 for
        1,000 bins on [0, 1]).
        """
        if not 0 < step < 1:
            raise ValueError(f"step must be in (0, 1); got {step}")
        rounded = np.clip(np.round(self.bins.scores / step) * step, 0.0, 1.0)
        target = score_bin(rounded, self.edges)
        n = len(self.edges) + 1
        return ScorePopulation(
            name=f"{self.name}, tied on a {step:g} grid", prevalence=self.prevalence,
            negatives=np.bincount(target, weights=self.negatives, minlength=n).astype(np.float64),
            positives=np.bincount(target, weights=self.positives, minlength=n).astype(np.float64),
            edges=self.edges)

    def with_prevalence(self, prevalence: float, name: str | None = None) -> ScorePopulation:
        """The same class distributions at another share of positives (a label-shifted population)."""
        return ScorePopulation(name=name or self.name, prevalence=prevalence, negatives=self.negatives,
                               positives=self.positives, edges=self.edges)


def _logistic(slope: float, intercept: float) -> Callable[[Floats], Floats]:
    def score(z: Floats) -> Floats:
        return np.asarray(special.expit(slope * z + intercept), dtype=np.float64)
    return score


def binormal(*, separation: float, prevalence: float, slope: float | None = None,
             intercept: float | None = None, name: str | None = None) -> ScorePopulation:
    """Latent ``N(0, 1)`` (negatives) or ``N(separation, 1)`` (positives); score ``expit(slope·z + b)``.

    ``b`` is ``intercept``. Without ``slope`` and ``intercept`` the score is the true posterior (calibrated):
    slope ``separation`` and intercept ``logit(prevalence) - separation²/2``. The
    ROC AUC of the latent is ``Φ(separation/√2)``; binning moves it by ties only.

    Examples
    --------
    >>> round(binormal(separation=1.8, prevalence=0.1).roc_auc(), 3)
    0.898
    """
    if slope is None:
        slope = separation
    if intercept is None:
        intercept = math.log(prevalence / (1 - prevalence)) - separation**2 / 2
    edges = _uniform_edges()
    score = _logistic(slope, intercept)
    p0, _ = _masses(stats.norm(0.0, 1.0), score, edges)
    p1, _ = _masses(stats.norm(separation, 1.0), score, edges)
    return ScorePopulation(name=name or f"binormal, separation {separation:g}, {prevalence:.1%} positives",
                           prevalence=prevalence, negatives=p0, positives=p1, edges=edges)


def beta_scores(*, negatives: tuple[float, float], positives: tuple[float, float], prevalence: float,
                name: str | None = None) -> ScorePopulation:
    """Scores drawn from ``Beta(a, b)`` per class (``negatives=(a, b)``, ``positives=(a, b)``).

    Examples
    --------
    >>> population = beta_scores(negatives=(1, 12), positives=(3, 3), prevalence=0.02)
    >>> 0.9 < population.roc_auc() < 1
    True
    """
    edges = _uniform_edges()
    upper = np.append(np.asarray(edges), np.inf)
    lower = np.concatenate(([-np.inf], edges))

    def mass(a: float, b: float) -> Floats:
        return np.asarray(stats.beta.cdf(upper, a, b) - stats.beta.cdf(lower, a, b), dtype=np.float64)

    default = f"Beta{negatives} / Beta{positives} scores, {prevalence:.1%} positives"
    return ScorePopulation(name=name or default,
                           prevalence=prevalence, negatives=mass(*negatives), positives=mass(*positives),
                           edges=edges)


def latent_link(*, latent: object, label: Callable[[Floats], Floats], score: Callable[[Floats], Floats],
                name: str) -> ScorePopulation:
    """One latent ``z ~ latent`` for everyone, ``P(y = 1 | z) = label(z)``, the model's score ``score(z)``.

    The prevalence is ``E[label(z)]``. With ``label`` and ``score`` of different
    shapes (say a complementary log-log truth and a logistic score) the score is
    miscalibrated in a way no recalibration by slope and intercept undoes.

    Examples
    --------
    >>> from scipy import stats
    >>> import numpy as np
    >>> p = latent_link(latent=stats.norm(), label=lambda z: 1 - np.exp(-np.exp(z - 6)),
    ...                 score=lambda z: 1 / (1 + np.exp(-(z - 5))), name="cloglog truth")
    >>> round(p.prevalence, 4)
    0.0041
    """
    edges = _uniform_edges()
    p1, prevalence = _masses(latent, score, edges, weight=label)
    p0, _ = _masses(latent, score, edges, weight=lambda z: 1.0 - np.asarray(label(z)))
    return ScorePopulation(name=name, prevalence=prevalence, negatives=p0, positives=p1, edges=edges)


def mixture(*, negatives: Sequence[tuple[float, object]], positives: Sequence[tuple[float, object]],
            score: Callable[[Floats], Floats], prevalence: float, name: str) -> ScorePopulation:
    """Each class a mixture ``[(weight, latent), ...]`` of latents, all mapped by ``score``.

    Examples
    --------
    >>> from scipy import stats
    >>> import numpy as np
    >>> fraud = mixture(negatives=[(1.0, stats.norm(0, 1))],
    ...                 positives=[(0.7, stats.norm(4, 1)), (0.3, stats.norm(0.5, 1))],
    ...                 score=lambda z: 1 / (1 + np.exp(-1.5 * (z - 3))), prevalence=0.01, name="fraud")
    >>> round(fraud.roc_auc(), 2)
    0.89
    """
    edges = _uniform_edges()

    def mass(parts: Sequence[tuple[float, object]]) -> Floats:
        weights = np.asarray([w for w, _ in parts], dtype=np.float64)
        if np.any(weights <= 0):
            raise ValueError(f"mixture weights must be > 0; got {weights.tolist()}")
        total = sum(w / weights.sum() * _masses(dist, score, edges)[0] for w, dist in parts)
        return np.asarray(total, dtype=np.float64)

    return ScorePopulation(name=name, prevalence=prevalence, negatives=mass(negatives),
                           positives=mass(positives), edges=edges)
