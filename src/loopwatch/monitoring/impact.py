"""Impact on decisions: how much a feature matters, and how much a change in it moves decisions.

Both are measured by loopwatch from the logs, with no access to the model: the
profiles keep, for every feature bin (and for missing values), how many
decisions fell there and how many of them were positive (:class:`BinScores`).

* **Importance** of a feature is the correlation ratio η² of the positive
  decision with the feature's bins (missing values a bin of their own): the
  share of the decision's variance that the bins explain (Pearson 1903). A
  feature the model ignores has η² ≈ 0 whatever its distribution. Importances
  given in the spec (e.g. mean |SHAP| from training) take precedence.
* **Decision shift** of a change in a feature's distribution is
  ``Σ_b (p_cur[b] − p_ref[b]) · r[b]``: the change in the positive-decision rate
  that the move of mass between bins causes, with ``r[b]`` the positive rate
  observed in bin ``b`` now (or in the reference, for a bin the current window
  does not fill). It is the first term of the exact decomposition
  ``Δrate = Σ Δp·r_cur + Σ p_ref·Δr``; the second term (the model treating a bin
  differently) belongs to the score, not to the feature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from loopwatch.core.findings import Severity
from loopwatch.core.profile import BinScores, CategoricalStats, NumericStats
from loopwatch.core.spec import Monitoring, Spec

__all__ = ["Shift", "Signal", "decision_shift", "eta_squared", "grade", "importance_shares", "slot_shares"]

Floats = npt.NDArray[np.float64]
#: What decisions are measured by: the positive actions, or the score when no decision is logged.
Signal = Literal["positive", "score"]


def slot_shares(stats: NumericStats | CategoricalStats) -> Floats:
    """Shares of a profile's rows by slot (missing first, then bins or categories), as in BinScores.

    Examples
    --------
    >>> stats = NumericStats(3, 1, 0.0, 0.0, 0.0, 1.0, np.array([1, 2]))
    >>> slot_shares(stats).tolist()
    [0.25, 0.25, 0.5]
    """
    counts = stats.bins if isinstance(stats, NumericStats) else stats.counts
    slots = np.concatenate([[stats.nulls], counts]).astype(np.float64)
    total = slots.sum()
    return slots / total if total else slots


def eta_squared(by_bin: BinScores, *, signal: Signal = "positive") -> float:
    """Share of the decision signal's variance explained by the feature's bins (0 to 1).

    With ``signal="score"`` (a model whose decisions are not logged), the
    between-bin variance of the mean score, unnormalised: comparable across
    features of one model, which is all :func:`importance_shares` needs.

    Examples
    --------
    >>> informative = BinScores(np.array([0, 50, 50]), np.zeros(3), np.array([0, 0, 50]))
    >>> ignored = BinScores(np.array([0, 50, 50]), np.zeros(3), np.array([0, 25, 25]))
    >>> eta_squared(informative), eta_squared(ignored)
    (1.0, 0.0)
    """
    n = by_bin.n.astype(np.float64)
    total = n.sum()
    values = by_bin.positive if signal == "positive" else by_bin.score_sum
    overall = float(np.sum(values))
    if total <= 1:
        return 0.0
    rate = overall / total
    filled = n > 0
    between = float(np.sum(n[filled] * (values[filled] / n[filled] - rate) ** 2))
    if signal == "score":
        return float(between / total)
    if overall in (0.0, total):
        return 0.0
    return float(min(1.0, between / (total * rate * (1 - rate))))


def importance_shares(spec: Spec, by_bin: Mapping[str, BinScores], *,
                      signal: Signal = "positive") -> dict[str, float]:
    """Importance of each stored feature, as shares that sum to 1.

    The spec's ``importance`` values when every stored feature has one; otherwise
    η² measured on the reference (:func:`eta_squared`). All zero when nothing
    explains the decisions (e.g. no positive decision in the reference).
    """
    names = [f.name for f in spec.stored_features]
    given = {f.name: f.importance for f in spec.stored_features}
    if all(given[n] is not None for n in names):
        raw = {n: float(given[n] or 0.0) for n in names}
    else:
        raw = {n: eta_squared(by_bin[n], signal=signal) if n in by_bin else 0.0 for n in names}
    total = sum(raw.values())
    return {n: (v / total if total > 0 else 0.0) for n, v in raw.items()}


@dataclass(frozen=True)
class Shift:
    """An estimated change in the decision signal, with its standard error.

    ``se`` is the sampling error of the shares on both sides (multinomial), the
    slot rates taken as known: ``var(Σ p̂ r) = (Σ r² p − (Σ r p)²) / n``.
    """

    value: float
    se: float
    #: the reference's decision signal under the same slot rates, ``Σ p_ref r``
    base: float = math.nan

    @property
    def relative(self) -> float:
        """The assured shift relative to :attr:`base` (NaN when there is no base)."""
        return self.assured() / self.base if self.base > 0 else math.nan

    def assured(self, z: float = 1.96) -> float:
        """The part of the shift its sampling error cannot explain (0 if none), with its sign."""
        if not math.isfinite(self.value):
            return math.nan
        margin = z * self.se if math.isfinite(self.se) else 0.0
        return math.copysign(max(0.0, abs(self.value) - margin), self.value)


def decision_shift(reference: Floats, current: Floats, *, rates_now: BinScores,
                   rates_then: BinScores, min_rows: int = 30, signal: Signal = "positive",
                   n_reference: float = math.inf, n_current: float = math.inf) -> Shift:
    """Change in the positive-decision rate (or mean score) caused by the move of mass between slots.

    ``reference`` and ``current`` are slot shares (:func:`slot_shares`) of
    ``n_reference`` and ``n_current`` rows; a slot's positive rate is read from
    ``rates_now`` when it holds at least ``min_rows`` decisions there, else from
    ``rates_then``, else the overall current rate (a slot nobody fills cannot be
    said to move decisions). The rates are the global cohort's; for a cohort whose
    own decision rate differs, the *relative* shift (:attr:`Shift.relative`, the
    shift over the same rates applied to its reference shares) is what carries over.

    Examples
    --------
    >>> rates = BinScores(np.array([0, 100, 100]), np.zeros(3), np.array([0, 10, 50]))
    >>> shift = decision_shift(np.array([0, .5, .5]), np.array([0, 0., 1.]), rates_now=rates,
    ...                        rates_then=rates, n_reference=400, n_current=400)
    >>> shift.value, round(shift.se, 4)
    (0.2, 0.01)
    """
    now_n = rates_now.n.astype(np.float64)
    then_n = rates_then.n.astype(np.float64)
    now_v = rates_now.positive if signal == "positive" else rates_now.score_sum
    then_v = rates_then.positive if signal == "positive" else rates_then.score_sum
    overall = float(now_v.sum()) / now_n.sum() if now_n.sum() else math.nan
    rate = np.full(now_n.size, overall)
    then_ok = then_n >= min_rows
    rate[then_ok] = then_v[then_ok] / then_n[then_ok]
    now_ok = now_n >= min_rows
    rate[now_ok] = now_v[now_ok] / now_n[now_ok]
    rate = np.nan_to_num(rate, nan=0.0)
    variance = 0.0
    for shares, n in ((reference, n_reference), (current, n_current)):
        if n > 0 and math.isfinite(n):
            variance += max(0.0, float(np.sum(rate ** 2 * shares) - np.sum(rate * shares) ** 2)) / n
    return Shift(round(float(np.sum((current - reference) * rate)), 12), math.sqrt(variance),
                 float(np.sum(reference * rate)))


def grade(*, relative_shift: float = 0.0, input_loss: float = 0.0,
          monitoring: Monitoring) -> Severity:
    """Severity from impact: the relative change in positive decisions, or the input signal lost.

    Examples
    --------
    >>> from loopwatch.core.spec import Monitoring
    >>> str(grade(relative_shift=0.4, monitoring=Monitoring()))
    'page'
    >>> str(grade(relative_shift=0.01, input_loss=0.03, monitoring=Monitoring()))
    'warning'
    """
    shift = abs(relative_shift) if math.isfinite(relative_shift) else 0.0
    loss = input_loss if math.isfinite(input_loss) else 0.0
    if shift >= monitoring.page_impact or loss >= monitoring.page_input_loss:
        return Severity.PAGE
    if shift >= monitoring.warning_impact or loss >= monitoring.warning_input_loss:
        return Severity.WARNING
    return Severity.INFO
