"""Data health per feature and cohort: missing rate, stale (constant) values, out-of-range
values, mean and cardinality, for the current and trend windows against the baseline before them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.intervals import wilson
from loopwatch.core.profile import (
    ALL,
    BinScores,
    CategoricalStats,
    Cohort,
    NumericStats,
    Profile,
)
from loopwatch.core.window import Window
from loopwatch.monitoring.checks import CheckContext, register_check
from loopwatch.monitoring.impact import decision_shift, grade, importance_shares
from loopwatch.monitoring.significance import two_means, two_proportions

__all__ = ["HealthCheck"]


@register_check("health")
class HealthCheck:
    """Missing rate, stale values, out-of-range share, mean and cardinality per feature × cohort.

    Parameters
    ----------
    min_change
        Smallest change of a share (missing, out of range) reported (absolute).
    min_mean_effect
        Smallest mean shift reported, in baseline standard deviations.
    """

    name = "health"

    def __init__(self, *, min_change: float = 0.01, min_mean_effect: float = 0.5) -> None:
        if not 0 < min_change < 1:
            raise ValueError(f"min_change must be in (0, 1); got {min_change}")
        if min_mean_effect <= 0:
            raise ValueError(f"min_mean_effect must be > 0; got {min_mean_effect}")
        self.min_change = min_change
        self.min_mean_effect = min_mean_effect

    def run(self, context: CheckContext) -> list[Finding]:
        reference = context.profile(context.reference)
        importance = importance_shares(context.spec, reference.by_bin, signal=context.signal)
        out: list[Finding] = []
        for window in context.windows:
            now = context.profiles(window)
            rates_now = now[ALL].by_bin if ALL in now else {}
            # a feature an open alert holds is compared with the days before its onset
            by_baseline: dict[Window, list[str]] = {}
            for name in importance:
                by_baseline.setdefault(context.baseline_for(window, "health", name), []).append(name)
            for baseline, names in by_baseline.items():
                for cohort, current, before in context.pairs(window, baseline):
                    for name in names:
                        args = (context, window, cohort, name, current, before, importance[name])
                        out += self._missing(*args, rates_now.get(name),
                                             reference.by_bin.get(name))
                        out += self._stale(*args)
                        if current.binned and before.binned:
                            out += self._out_of_range(*args, rates_now.get(name),
                                                      reference.by_bin.get(name))
                        out += self._mean(*args)
        return out

    # --- the sub-checks -------------------------------------------------------------------

    def _missing(self, context: CheckContext, window: Window, cohort: Cohort, name: str,
                 current: Profile, before: Profile, importance: float,
                 now: BinScores | None, then: BinScores | None) -> list[Finding]:
        cur, base = _stats(current, name), _stats(before, name)
        rows_c, rows_b = cur.count + cur.nulls, base.count + base.nulls
        if not rows_c or not rows_b:
            return []
        miss_c, miss_b = cur.nulls / rows_c, base.nulls / rows_b
        change = miss_c - miss_b
        if abs(change) < self.min_change:
            return []
        shift = math.nan
        if now is not None and then is not None:
            shares_b = np.array([miss_b, 1 - miss_b])
            shares_c = np.array([miss_c, 1 - miss_c])
            estimate = decision_shift(shares_b, shares_c, rates_now=_two_slots(now),
                                      rates_then=_two_slots(then),
                                      min_rows=context.spec.monitoring.min_decisions,
                                      signal=context.signal, n_reference=rows_b, n_current=rows_c)
            shift, relative = estimate.assured(), estimate.relative
        else:
            relative = math.nan
        loss = max(0.0, change) * importance
        severity = grade(relative_shift=relative, input_loss=loss,
                         monitoring=context.spec.monitoring) if change > 0 else Severity.INFO
        where = "" if cohort == ALL else f" for {cohort}"
        direction = "up" if change > 0 else "down"
        return [Finding(
            kind="health", check=self.name, statistic="missing_rate", start=window.start,
            end=window.end, feature=name, cohort=_cohort(cohort), value=miss_c,
            interval=wilson(cur.nulls, rows_c), threshold=miss_b, n=rows_c, severity=severity,
            impact=_finite(relative),
            message=(f"{name} is missing in {miss_c:.1%} of decisions{where} ({direction} from "
                     f"{miss_b:.1%}); importance share {importance:.0%}"),
            evidence={"p_value": two_proportions(cur.nulls, rows_c, base.nulls, rows_b),
                      "baseline": miss_b, "input_loss": loss, "decision_shift": _finite(shift),
                      "importance": importance},
        )]

    def _stale(self, context: CheckContext, window: Window, cohort: Cohort, name: str,
               current: Profile, before: Profile, importance: float) -> list[Finding]:
        cur, base = _stats(current, name), _stats(before, name)
        minimum = context.spec.monitoring.min_decisions
        if cur.count < minimum or base.count < minimum:
            return []
        if isinstance(cur, NumericStats) and isinstance(base, NumericStats):
            if not base.variance > 0 or cur.variance > base.variance * 1e-6:
                return []
            value, before_value, statistic = cur.variance, base.variance, "variance"
            p = float(stats.f.cdf(max(cur.variance, 1e-300) / base.variance, cur.count - 1,
                                  base.count - 1))
            binned = base.bins.sum()
            if binned:
                # the F test assumes normal values; for a feature of few distinct values a
                # small cohort all at one value is common. Bound by the chance that every row
                # falls in the baseline's fullest bin, had nothing changed
                p = max(p, float((base.bins.max() / binned) ** cur.count))
        elif isinstance(cur, CategoricalStats) and isinstance(base, CategoricalStats):
            top = base.counts.max() / base.count if base.count else 1.0
            if np.count_nonzero(cur.counts) != 1 or cur.counts.max() < cur.count or top > 0.99:
                return []
            value, before_value, statistic = 1.0, float(np.count_nonzero(base.counts)), "distinct"
            p = float(top ** cur.count)  # chance of one category only, had nothing changed
        else:
            return []
        loss = cur.count / (cur.count + cur.nulls) * importance
        where = "" if cohort == ALL else f" for {cohort}"
        return [Finding(
            kind="health", check=self.name, statistic=statistic, start=window.start,
            end=window.end, feature=name, cohort=_cohort(cohort), value=value, threshold=before_value,
            n=cur.count, severity=grade(input_loss=loss, monitoring=context.spec.monitoring),
            impact=loss,
            message=(f"{name} is stuck at one value{where} ({statistic} {value:.3g}, was "
                     f"{before_value:.3g}): the model has lost this input "
                     f"(importance share {importance:.0%})"),
            evidence={"p_value": p, "input_loss": loss, "importance": importance},
        )]

    def _out_of_range(self, context: CheckContext, window: Window, cohort: Cohort, name: str,
                      current: Profile, before: Profile, importance: float,
                      now: BinScores | None, then: BinScores | None) -> list[Finding]:
        cur, base = current.numeric.get(name), before.numeric.get(name)
        if cur is None or base is None or not cur.count or not base.count:
            return []
        out_c = int(cur.bins[0] + cur.bins[-1])
        out_b = int(base.bins[0] + base.bins[-1])
        share_c, share_b = out_c / cur.count, out_b / base.count
        if share_c - share_b < self.min_change:
            return []
        shift = math.nan
        if now is not None and then is not None:
            # only the mass moving out of (or back into) the range counts: the slice is graded
            # by its own share, not by the whole feature's drift
            estimate = decision_shift(_range_shares(base), _range_shares(cur),
                                      rates_now=_range_slots(now), rates_then=_range_slots(then),
                                      min_rows=context.spec.monitoring.min_decisions,
                                      signal=context.signal, n_reference=base.count,
                                      n_current=cur.count)
            shift, relative = estimate.assured(), estimate.relative
        else:
            relative = math.nan
        where = "" if cohort == ALL else f" for {cohort}"
        return [Finding(
            kind="health", check=self.name, statistic="out_of_range", start=window.start,
            end=window.end, feature=name, cohort=_cohort(cohort), value=share_c,
            interval=wilson(out_c, cur.count), threshold=share_b, n=cur.count,
            severity=grade(relative_shift=relative, monitoring=context.spec.monitoring),
            impact=_finite(relative),
            message=(f"{share_c:.1%} of {name} values{where} fall outside the reference range "
                     f"(was {share_b:.1%}; now {cur.minimum:.4g} to {cur.maximum:.4g})"
                     + (f"; estimated {relative:+.0%} positive decisions" if math.isfinite(relative)
                        else "")),
            evidence={"p_value": two_proportions(out_c, cur.count, out_b, base.count),
                      "baseline": share_b, "decision_shift": _finite(shift),
                      "importance": importance},
        )]

    def _mean(self, context: CheckContext, window: Window, cohort: Cohort, name: str,
              current: Profile, before: Profile, importance: float) -> list[Finding]:
        cur, base = current.numeric.get(name), before.numeric.get(name)
        if cur is None or base is None or not base.variance > 0:
            return []
        sd = math.sqrt(base.variance)
        effect = (cur.mean - base.mean) / sd
        if not abs(effect) >= self.min_mean_effect:
            return []
        p, se = two_means(cur.mean, cur.variance, cur.count, base.mean, base.variance, base.count)
        z = float(stats.norm.ppf(0.975))
        where = "" if cohort == ALL else f" for {cohort}"
        return [Finding(
            kind="health", check=self.name, statistic="mean", start=window.start, end=window.end,
            feature=name, cohort=_cohort(cohort), value=cur.mean,
            interval=(cur.mean - z * math.sqrt(cur.variance / cur.count),
                      cur.mean + z * math.sqrt(cur.variance / cur.count)),
            threshold=base.mean, n=cur.count, severity=Severity.INFO, impact=None,
            message=(f"mean of {name}{where} moved {effect:+.1f} standard deviations "
                     f"({base.mean:.4g} → {cur.mean:.4g})"),
            evidence={"p_value": p, "effect_sd": effect, "se": se, "importance": importance},
        )]


def _stats(profile: Profile, name: str) -> NumericStats | CategoricalStats:
    found = profile.numeric.get(name)
    return found if found is not None else profile.categorical[name]


def _range_shares(stats_: NumericStats) -> np.ndarray:
    """Shares of non-null values below, inside and above the reference's range."""
    bins = stats_.bins.astype(np.float64)
    grouped = np.array([bins[0], bins[1:-1].sum(), bins[-1]])
    total = grouped.sum()
    return grouped / total if total else grouped


def _range_slots(by_bin: BinScores) -> BinScores:
    """A numeric feature's per-slot decisions grouped as below, inside and above the range."""
    def group(values: np.ndarray) -> np.ndarray:
        return np.array([values[1], values[2:-1].sum(), values[-1]])
    return BinScores(group(by_bin.n), group(by_bin.score_sum), group(by_bin.positive))


def _two_slots(by_bin: BinScores) -> BinScores:
    """Missing vs present, from a feature's per-slot decisions."""
    return BinScores(np.array([by_bin.n[0], by_bin.n[1:].sum()]),
                     np.array([by_bin.score_sum[0], by_bin.score_sum[1:].sum()]),
                     np.array([by_bin.positive[0], by_bin.positive[1:].sum()]))


def _cohort(cohort: Cohort) -> str | None:
    return None if cohort == ALL else str(cohort)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
