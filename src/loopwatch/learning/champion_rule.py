"""The champion/challenger rule on paired scores: non-inferior in every cohort, better overall.

:func:`judge` takes the labelled decisions of a window, each scored by both
versions, with their cohort values, and applies the spec's
:class:`~loopwatch.core.learning_spec.ChampionRule`:

1. Per cohort (every value of every cohort column) and overall, the paired
   difference of the rule's metric (correlated DeLong for the ROC AUC, a paired
   bootstrap for value per decision; :mod:`loopwatch.evaluation.paired`), and of
   the rates at the threshold for the report.
2. A cohort with fewer than ``min_class_rows`` labelled positives or negatives
   is ``not_enough_data``: listed, not tested, and never a pass of its own.
3. The others are tested one-sided for non-inferiority (H0: challenger −
   champion ≤ −margin) and the p-values are corrected together (Holm, or
   Benjamini–Hochberg); a cohort whose corrected p-value exceeds ``alpha`` is
   *blocked* — the challenger is not shown to be within the margin there.
4. Overall the challenger must be shown better (H0: difference ≤ 0 at ``alpha``).

The verdict is ``passed`` only when no cohort is blocked and the overall test
passes; ``blocked`` names the cohorts; ``not_superior`` when every cohort holds
but the challenger is not shown better; ``not_enough_data`` when the window has
too few labels overall to test anything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from loopwatch.core.intervals import adjusted_p_values
from loopwatch.core.learning_spec import ChampionRule
from loopwatch.core.value_spec import ValueModel
from loopwatch.evaluation.maturity import LabelMaturity
from loopwatch.evaluation.paired import PairedDifference, paired_auc, paired_rates, paired_value

__all__ = ["ChampionChallengerResult", "CohortComparison", "Verdict", "decision_values", "holm", "judge"]

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
CohortOutcome = Literal["non_inferior", "blocked", "not_enough_data"]
Verdict = Literal["passed", "blocked", "not_superior", "not_enough_data", "labels_not_mature",
                  "no_paired_scores"]

ALL = "all"


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979, *Scand. J. Statist.* 6:65-70); NaN stays NaN.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, math.nan])
    [0.03, 0.06, 0.06, nan]
    """
    finite = [(p, i) for i, p in enumerate(p_values) if math.isfinite(p)]
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(finite)):
        running = max(running, min(1.0, (len(finite) - rank) * p))
        out[i] = round(running, 12)
    return out


@dataclass(frozen=True)
class CohortComparison:
    """The two versions on one cohort's labelled decisions.

    ``metric`` is the rule's paired difference (``None`` with ``not_enough_data``),
    ``rates`` the paired differences at the threshold; ``p_value`` the one-sided
    non-inferiority p-value and ``adjusted`` after the correction across cohorts.
    """

    cohort: str
    outcome: CohortOutcome
    n: int
    positives: int
    negatives: int
    metric: PairedDifference | None
    rates: Mapping[str, PairedDifference]
    p_value: float
    adjusted: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"cohort": self.cohort, "outcome": self.outcome, "n": self.n, "positives": self.positives,
                "negatives": self.negatives,
                "metric": None if self.metric is None else self.metric.to_dict(),
                "rates": {k: v.to_dict() for k, v in self.rates.items()},
                "p_value": _number(self.p_value), "adjusted_p_value": _number(self.adjusted),
                "reason": self.reason}


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class ChampionChallengerResult:
    """The verdict of the champion/challenger rule, and the comparison it rests on.

    ``passed`` is true only for the verdict ``passed``; ``blocked_cohorts`` names
    the cohorts where the challenger was not shown non-inferior (``region=AFR``);
    :meth:`report` is a readable account, :meth:`to_dict` the JSON.
    """

    champion: str
    challenger: str
    verdict: Verdict
    rule: ChampionRule
    threshold: float
    overall: CohortComparison | None
    cohorts: tuple[CohortComparison, ...]
    superiority_p: float
    source: str
    window: tuple[str, str] | None = None
    maturity: LabelMaturity | None = None
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def blocked_cohorts(self) -> tuple[str, ...]:
        return tuple(c.cohort for c in self.cohorts if c.outcome == "blocked")

    @property
    def not_enough_data(self) -> tuple[str, ...]:
        return tuple(c.cohort for c in self.cohorts if c.outcome == "not_enough_data")

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        return {"champion": self.champion, "challenger": self.challenger, "verdict": self.verdict,
                "passed": self.passed, "blocked_cohorts": list(self.blocked_cohorts),
                "not_enough_data": list(self.not_enough_data), "reason": self.reason,
                "source": self.source,
                "window": None if self.window is None else {"start": self.window[0], "end": self.window[1]},
                "rule": self.rule.model_dump(), "threshold": self.threshold,
                "superiority_p_value": _number(self.superiority_p),
                "maturity": None if self.maturity is None else self.maturity.to_dict(),
                "overall": None if self.overall is None else self.overall.to_dict(),
                "cohorts": [c.to_dict() for c in self.cohorts]}

    def report(self) -> str:
        """A readable account: the verdict, why, and every cohort's difference and outcome."""
        r = self.rule
        lines = [f"champion {self.champion} vs challenger {self.challenger}: {self.verdict.upper()}"]
        if self.reason:
            lines.append(f"  {self.reason}")
        lines.append(f"  rule: {r.metric} not worse by more than {r.margin:g} in any cohort with "
                     f">= {r.min_class_rows} positives and negatives ({r.correction} across cohorts, "
                     f"alpha {r.alpha:g}), and better overall")
        if self.overall is not None and self.overall.metric is not None:
            lines.append(f"  better overall: p {_p(self.superiority_p)} (needs <= {r.alpha:g})")
        for c in self.cohorts:
            if c.metric is None:
                lines.append(f"  {c.cohort:<28} not enough data ({c.reason})")
            else:
                lines.append(f"  {c.cohort:<28} {c.outcome:<15} {_difference(c.metric)}, "
                             f"adjusted p {_p(c.adjusted)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        blocked = f", blocked: {', '.join(self.blocked_cohorts)}" if self.blocked_cohorts else ""
        return f"<ChampionChallengerResult {self.champion} vs {self.challenger}: {self.verdict}{blocked}>"


def _p(value: float) -> str:
    """``= 0.0312``, or ``< 1e-12`` where a normal tail rounds to nothing."""
    return "< 1e-12" if value < 1e-12 else f"= {value:.3g}"


def _difference(d: PairedDifference) -> str:
    return (f"{d.metric} {d.champion:.4f} -> {d.challenger:.4f} "
            f"(diff {d.difference:+.4f}, {round(100 * d.confidence)}% CI {d.low:+.4f} to {d.high:+.4f})")


def decision_values(labels: Bools, flagged: Bools, values: Floats | None, model: ValueModel) -> Floats:
    """Each labelled decision's value under the value model: TP ``a + α·v``, FP ``−c``, FN ``−(d + β·v)``."""
    v = np.zeros(labels.size) if values is None else np.nan_to_num(values, nan=0.0)
    out = np.zeros(labels.size)
    tp, fp, fn = labels & flagged, ~labels & flagged, labels & ~flagged
    out[tp] = model.true_positive + model.true_positive_value_share * v[tp]
    out[fp] = -model.false_positive
    out[fn] = -(model.false_negative + model.false_negative_value_share * v[fn])
    return out


def _compare(name: str, y: Bools, a: Floats, b: Floats, values: Floats | None, *, rule: ChampionRule,
             threshold: float, value_model: ValueModel | None, seed: int) -> CohortComparison:
    pos, neg = int(y.sum()), int((~y).sum())
    flags_a, flags_b = a >= threshold, b >= threshold
    rates = paired_rates(y, flags_a, flags_b, resamples=rule.resamples, seed=seed)
    if min(pos, neg) < rule.min_class_rows:
        return CohortComparison(name, "not_enough_data", y.size, pos, neg, None, rates, math.nan, math.nan,
                                reason=f"{pos} positives and {neg} negatives labelled; the rule needs "
                                       f"{rule.min_class_rows} of each")
    if rule.metric == "roc_auc":
        metric = paired_auc(y, a, b, confidence=1 - 2 * rule.alpha)
    else:
        assert value_model is not None  # checked by judge
        metric = paired_value(decision_values(y, flags_a, values, value_model),
                              decision_values(y, flags_b, values, value_model),
                              confidence=1 - 2 * rule.alpha, resamples=rule.resamples, seed=seed)
    return CohortComparison(name, "non_inferior", y.size, pos, neg, metric, rates,
                            metric.p_at_most(-rule.margin), math.nan)


def judge(labels: npt.ArrayLike, champion: npt.ArrayLike, challenger: npt.ArrayLike, *,
          cohorts: Mapping[str, Sequence[Any] | npt.NDArray[Any]], rule: ChampionRule, threshold: float,
          champion_version: str = "champion", challenger_version: str = "challenger",
          values: npt.ArrayLike | None = None, value_model: ValueModel | None = None,
          source: str = "arrays", window: tuple[str, str] | None = None,
          maturity: LabelMaturity | None = None, seed: int = 0) -> ChampionChallengerResult:
    """Apply the champion/challenger rule to labelled decisions scored by both versions.

    Parameters
    ----------
    labels
        The outcome of each labelled decision (True: positive).
    champion, challenger
        Each version's score of the same decisions.
    cohorts
        ``{column: values}``, one value per decision; every value of every column is a cohort.
    rule
        The spec's ``learning.champion``.
    threshold
        Decisions are ``score >= threshold`` (for the rates and the value model).
    values
        The outcomes' value (e.g. dollars), for ``value_per_decision``.
    value_model
        The spec's ``value``; required when the rule's metric is ``value_per_decision``.
    source, window, maturity
        Where the scores came from, the compared window and its label maturity, for the report.
    seed
        Seed of the bootstraps.

    Intervals are at ``1 − 2·alpha``, so an interval whose lower end is above
    ``−margin`` is the one-sided test at ``alpha`` before correction.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> y = rng.random(4000) < 0.1
    >>> region = np.where(rng.random(4000) < 0.2, "EU", "NA")
    >>> champion = y + rng.normal(0, 1.0, 4000)
    >>> challenger = y + rng.normal(0, 0.6, 4000)
    >>> result = judge(y, champion, challenger, cohorts={"region": region}, rule=ChampionRule(),
    ...                threshold=0.5)
    >>> result.verdict, result.blocked_cohorts
    ('passed', ())
    >>> worse_in_eu = np.where(region == "EU", y + rng.normal(0, 3.0, 4000), challenger)
    >>> judge(y, champion, worse_in_eu, cohorts={"region": region}, rule=ChampionRule(),
    ...       threshold=0.5).blocked_cohorts
    ('region=EU',)
    """
    y = np.asarray(labels, dtype=np.bool_)
    a = np.asarray(champion, dtype=np.float64)
    b = np.asarray(challenger, dtype=np.float64)
    v = None if values is None else np.asarray(values, dtype=np.float64)
    if not y.shape == a.shape == b.shape:
        raise ValueError(f"labels and both scores must have one length; got {y.size}, {a.size}, {b.size}")
    if rule.metric == "value_per_decision" and value_model is None:
        raise ValueError("learning.champion.metric is value_per_decision but the spec has no value model "
                         "(add a 'value:' block)")
    columns = {name: np.asarray(values_, dtype=object) for name, values_ in cohorts.items()}
    for name, column in columns.items():
        if column.shape != y.shape:
            raise ValueError(f"cohort column {name!r} has {column.size} values for {y.size} decisions")
    common: dict[str, Any] = {"rule": rule, "threshold": threshold, "value_model": value_model}
    overall = _compare(ALL, y, a, b, v, seed=seed, **common)
    found: list[CohortComparison] = []
    for name, column in columns.items():
        missing = _missing(column)
        text = np.where(missing, "", column).astype(str)
        values_, codes = np.unique(text, return_inverse=True)
        for code, value in enumerate(values_):
            mask = (codes == code) & ~missing
            if mask.any():
                found.append(_compare(f"{name}={value}", y[mask], a[mask], b[mask],
                                      None if v is None else v[mask], seed=seed, **common))
    tested = [overall, *found]
    raw = [c.p_value for c in tested]
    adjusted = holm(raw) if rule.correction == "holm" else adjusted_p_values(raw)
    judged = [_with_adjusted(c, p, rule.alpha) for c, p in zip(tested, adjusted, strict=True)]
    overall, found = judged[0], judged[1:]
    names = {"champion_version": champion_version, "challenger_version": challenger_version}
    if overall.metric is None:
        return _result(names, "not_enough_data", rule, threshold, overall, found, math.nan, source, window,
                       maturity, reason=f"overall: {overall.reason}")
    superiority = overall.metric.p_at_most(0.0)
    blocked = [c.cohort for c in judged if c.outcome == "blocked"]
    if blocked:
        verdict: Verdict = "blocked"
        reason = f"not shown within the margin in: {', '.join(blocked)}"
    elif superiority > rule.alpha:
        verdict, reason = "not_superior", "the challenger is not shown better overall"
    else:
        verdict, reason = "passed", ""
    return _result(names, verdict, rule, threshold, overall, found, superiority, source, window, maturity,
                   reason=reason)


def _missing(column: npt.NDArray[Any]) -> Bools:
    if column.dtype != object:
        return np.zeros(column.shape, dtype=np.bool_)
    missing = np.frompyfunc(lambda x: x is None or (isinstance(x, float) and math.isnan(x)), 1, 1)
    return np.asarray(missing(column), dtype=np.bool_)


def _with_adjusted(c: CohortComparison, adjusted: float, alpha: float) -> CohortComparison:
    if c.metric is None:
        return c
    outcome: CohortOutcome = "non_inferior" if adjusted <= alpha else "blocked"
    return CohortComparison(c.cohort, outcome, c.n, c.positives, c.negatives, c.metric, c.rates, c.p_value,
                            adjusted, c.reason)


def _result(names: Mapping[str, str], verdict: Verdict, rule: ChampionRule, threshold: float,
            overall: CohortComparison, found: Sequence[CohortComparison], superiority: float, source: str,
            window: tuple[str, str] | None, maturity: LabelMaturity | None,
            reason: str) -> ChampionChallengerResult:
    return ChampionChallengerResult(
        champion=names["champion_version"], challenger=names["challenger_version"], verdict=verdict,
        rule=rule, threshold=threshold, overall=overall, cohorts=(overall, *found),
        superiority_p=superiority, source=source, window=window, maturity=maturity, reason=reason)
