"""Slice harm: a slice of traffic that appears or grows, graded by what happens to its decisions.

A slice is the part of traffic named by one feature slot (its missing values,
values below or above the reference's range, categories the reference never
saw) or by one cohort value (a region, a source, a merchant category). When a
slice appears or grows, the harm to its rows can be total while the global
decision rate hardly moves: a new category mapped to null and given a
fallback score near zero loses every positive decision, yet at 8% of traffic
on a feature of small importance it moves the global rate by less than a
tenth. So each new or grown slice is compared with traffic comparable to it:

* its own decisions in the reference, when the reference holds enough of them,
  scaled by the change of the rest of traffic's rate (a change every slice shares is
  not this slice's harm);
* otherwise the nearest in-range bin (values beyond the range are most like the
  values at its edge), or, for missing values, unseen categories and new cohort
  values, the rest of the current traffic.

The slice's positive-decision rate (or mean score, for a model whose decisions
are not logged) carries an exact interval (Clopper-Pearson; Hoeffding's bound
for a mean score in [0, 1]). The slice has **collapsed** when the interval lies
below ``collapse`` times the comparable rate (no positive decisions where the
rest has them), or, in reverse, its share of negative decisions lies below
``collapse`` times the comparable one. A collapse in a slice that grew by at
least ``min_share`` of traffic pages; otherwise severity follows share × harm:
the share the slice gained times the part of its relative change its interval
assures (:func:`~loopwatch.monitoring.impact.grade`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import ALL, DAY_OF_WEEK, HOUR_OF_DAY, BinScores, Cohort, Profile
from loopwatch.monitoring.checks import CheckContext, Window, register_check
from loopwatch.monitoring.impact import Signal, grade
from loopwatch.monitoring.significance import two_proportions

__all__ = ["SliceCheck", "SliceHarm", "slice_harm"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SliceHarm:
    """How a slice's decisions compare with comparable traffic.

    ``rate`` is the slice's positive-decision rate (or mean score) with its
    ``interval``; ``expected`` the comparable traffic's. ``relative`` is the
    part of ``rate / expected - 1`` that the interval assures (0 when the
    interval contains ``expected``).
    """

    rate: float
    interval: tuple[float, float]
    expected: float
    relative: float
    collapsed: bool
    p_value: float


def slice_harm(positive: float, n: int, positive_other: float, n_other: int, *,
               collapse: float = 0.25, signal: Signal = "positive",
               confidence: float = 0.95) -> SliceHarm:
    """Compare a slice's ``positive / n`` with comparable traffic's ``positive_other / n_other``.

    With ``signal="score"``, ``positive`` and ``positive_other`` are sums of
    scores in [0, 1] and the interval and test are Hoeffding's.

    Examples
    --------
    >>> harm = slice_harm(0, 1600, 580, 20_000)  # none flagged, against 2.9% of the rest
    >>> harm.collapsed, round(harm.interval[1], 4), harm.p_value < 1e-6
    (True, 0.0023, True)
    >>> slice_harm(1, 40, 580, 20_000).collapsed  # 40 rows cannot show a collapse
    False
    """
    if n <= 0 or n_other <= 0:
        raise ValueError(f"both sides need rows; got n={n}, n_other={n_other}")
    rate, expected = positive / n, positive_other / n_other
    if signal == "positive":
        ci = stats.binomtest(int(positive), n).proportion_ci(confidence_level=confidence)
        low, high = float(ci.low), float(ci.high)
        p = two_proportions(positive, n, positive_other, n_other)
    else:
        half = math.sqrt(math.log(2 / (1 - confidence)) / (2 * n))
        low, high = max(0.0, rate - half), min(1.0, rate + half)
        gap = abs(rate - expected)
        p = min(1.0, 2 * math.exp(-2 * gap ** 2 / (1 / n + 1 / n_other)))
    collapsed = bool(expected > 0 and high < collapse * expected) or bool(
        expected < 1 and (1 - low) < collapse * (1 - expected))
    if expected <= 0:
        relative = math.inf if low > 0 else 0.0
    elif low > expected:
        relative = low / expected - 1
    elif high < expected:
        relative = high / expected - 1
    else:
        relative = 0.0
    return SliceHarm(rate=rate, interval=(low, high), expected=expected, relative=relative,
                     collapsed=collapsed, p_value=p)


@dataclass(frozen=True)
class _Slice:
    """One slice of a window: its rows and decisions, now and in the reference, and a comparator."""

    feature: str | None
    cohort: str | None
    label: str
    n: int
    value: float
    n_before: int
    total: int
    total_before: int
    other_n: int
    other_value: float
    comparator: str


@register_check("slice")
class SliceCheck:
    """New or grown slices (missing, out-of-range, unseen, new cohort values) whose decisions moved.

    Parameters
    ----------
    min_share
        Smallest growth of a slice's share of traffic (absolute) that is checked.
    collapse
        A slice has collapsed when its positive rate (or negative rate) is at most
        this fraction of comparable traffic's, interval included.
    min_harm
        Smallest relative change of a slice's rate reported when it has not collapsed.

    Examples
    --------
    >>> SliceCheck(min_share=0.0)
    Traceback (most recent call last):
    ...
    ValueError: min_share must be in (0, 1); got 0.0
    """

    name = "slice"

    def __init__(self, *, min_share: float = 0.01, collapse: float = 0.25,
                 min_harm: float = 0.5) -> None:
        if not 0 < min_share < 1:
            raise ValueError(f"min_share must be in (0, 1); got {min_share}")
        if not 0 < collapse < 1:
            raise ValueError(f"collapse must be in (0, 1); got {collapse}")
        if min_harm <= 0:
            raise ValueError(f"min_harm must be > 0; got {min_harm}")
        self.min_share = min_share
        self.collapse = collapse
        self.min_harm = min_harm

    def run(self, context: CheckContext) -> list[Finding]:
        reference = context.profiles(context.reference)
        if ALL not in reference:
            return []
        out: list[Finding] = []
        for window in context.windows:
            now = context.profiles(window)
            if ALL not in now:
                continue
            for piece in [*self._feature_slices(context, now[ALL], reference[ALL]),
                          *self._cohort_slices(context, now, reference)]:
                finding = self._finding(context, window, piece)
                if finding is not None:
                    out.append(finding)
        return out

    # --- the slices -------------------------------------------------------------------------

    def _feature_slices(self, context: CheckContext, now: Profile,
                        then: Profile) -> Iterator[_Slice]:
        value = _value(context.signal)
        for name, slots in now.by_bin.items():
            before = then.by_bin.get(name)
            if before is None or before.n.size != slots.n.size:
                continue
            total, total_before = int(slots.n.sum()), int(before.n.sum())
            if not total or not total_before:
                continue
            named: list[tuple[int, str, int | None]] = [(0, f"{name} missing", None)]
            if name in context.binning.numeric:
                edges = context.binning.numeric[name]
                last = slots.n.size - 1
                named += [(1, f"{name} below the reference range (< {edges[0]:.4g})", 2),
                          (last, f"{name} above the reference range (>= {edges[-1]:.4g})", last - 1)]
            elif name in context.binning.categorical:
                named.append((slots.n.size - 1, f"{name} not among the reference's categories",
                              None))
            for slot, label, neighbour in named:
                n, n_before = int(slots.n[slot]), int(before.n[slot])
                if n_before >= context.spec.monitoring.min_decisions:
                    now_v, then_v = value(slots), value(before)
                    other_n = n_before
                    other_value = _adjusted(float(then_v[slot]), n_before,
                                            rest_now=(float(now_v.sum() - now_v[slot]), total - n),
                                            rest_then=(float(then_v.sum() - then_v[slot]),
                                                       total_before - n_before))
                    comparator = _FROM_REFERENCE
                elif neighbour is not None and slots.n[neighbour] > 0:
                    other_n, other_value = int(slots.n[neighbour]), float(value(slots)[neighbour])
                    comparator = "in the nearest in-range bin"
                else:
                    other_n = total - n
                    other_value = float(value(slots).sum() - value(slots)[slot])
                    comparator = "of the rest"
                yield _Slice(feature=name, cohort=None, label=label, n=n,
                             value=float(value(slots)[slot]), n_before=n_before, total=total,
                             total_before=total_before, other_n=other_n, other_value=other_value,
                             comparator=comparator)

    def _cohort_slices(self, context: CheckContext, now: Mapping[Cohort, Profile],
                       then: Mapping[Cohort, Profile]) -> Iterator[_Slice]:
        columns = set(context.spec.cohorts) | set(context.spec.entities)
        if context.spec.columns.source is not None:
            columns.add(context.spec.columns.source)
        rows = context.positive_rows()
        total, total_before = now[ALL].n, then[ALL].n

        def decided(profile: Profile) -> float:
            if context.signal == "positive":
                return float(profile.score.by_action[rows].sum())
            return _score_sum(profile, context.binning.score)

        everything, everything_before = decided(now[ALL]), decided(then[ALL])
        for cohort, profile in sorted(now.items(), key=lambda kv: str(kv[0])):
            if cohort == ALL or cohort.column in (HOUR_OF_DAY, DAY_OF_WEEK) \
                    or cohort.column not in columns:
                continue
            before = then.get(cohort)
            n_before = before.n if before is not None else 0
            if before is not None and n_before >= context.spec.monitoring.min_decisions:
                other_n, comparator = n_before, _FROM_REFERENCE
                other_value = _adjusted(decided(before), n_before,
                                        rest_now=(everything - decided(profile), total - profile.n),
                                        rest_then=(everything_before - decided(before),
                                                   total_before - n_before))
            else:
                other_n, other_value = total - profile.n, everything - decided(profile)
                comparator = "of the rest"
            yield _Slice(feature=None, cohort=str(cohort), label=str(cohort), n=profile.n,
                         value=decided(profile), n_before=n_before, total=total,
                         total_before=total_before, other_n=other_n, other_value=other_value,
                         comparator=comparator)

    # --- grading ----------------------------------------------------------------------------

    def _finding(self, context: CheckContext, window: Window, piece: _Slice) -> Finding | None:
        share, share_before = piece.n / piece.total, piece.n_before / piece.total_before
        grown = share - share_before
        if (grown < self.min_share or piece.n < context.spec.monitoring.min_decisions
                or piece.other_n < context.spec.monitoring.min_decisions):
            return None
        harm = slice_harm(piece.value, piece.n, piece.other_value, piece.other_n,
                          collapse=self.collapse, signal=context.signal)
        if not harm.collapsed and abs(harm.relative) < self.min_harm:
            return None
        # the slice must have grown *and* be harmed: the larger p-value tests both (intersection-union)
        p = max(harm.p_value, two_proportions(piece.n, piece.total, piece.n_before,
                                              piece.total_before))
        impact = grown * (harm.relative if math.isfinite(harm.relative) else 1.0)
        if harm.collapsed:
            severity = Severity.PAGE
        else:
            severity = max(Severity.WARNING if abs(impact) >= self.min_share else Severity.INFO,
                           grade(relative_shift=impact, monitoring=context.spec.monitoring))
        positive = context.signal == "positive"
        what = "flagged" if positive else "scored on average"
        if positive and harm.rate == 0:
            told = f"none of them is {what}"
        elif positive and harm.rate == 1:
            told = f"all of them are {what}"
        else:
            told = f"{harm.rate:.1%} of them are {what}" if positive else \
                f"their mean score is {harm.rate:.3f}"
        when = (f"on {window.start:%m-%d}" if window.days == 1
                else f"from {window.start:%m-%d} to {window.end:%m-%d}")
        return Finding(
            kind="coverage", check=self.name,
            statistic="slice_positive_rate" if positive else "slice_mean_score",
            start=window.start, end=window.end, feature=piece.feature, cohort=piece.cohort,
            value=harm.rate, interval=harm.interval, threshold=harm.expected, n=piece.n,
            severity=severity, impact=impact,
            message=(f"{share:.1%} of decisions have {piece.label} {when} (was {share_before:.1%} "
                     f"in the reference); {told}, against {harm.expected:.1%} {piece.comparator}"
                     + ("" if harm.collapsed else f" ({harm.relative:+.0%} at least)")),
            evidence={"p_value": p, "share": share, "share_reference": share_before,
                      "collapsed": harm.collapsed, "relative_harm": _finite(harm.relative),
                      "comparator": piece.comparator, "slice": piece.label},
        )


_FROM_REFERENCE = "expected from its reference and the rest's change"


def _adjusted(value: float, n: int, *, rest_now: tuple[float, int],
              rest_then: tuple[float, int]) -> float:
    """A slice's reference decisions scaled by the change of the rest of traffic's rate.

    A change every slice shares (a drift elsewhere that makes the model flag more) is
    not this slice's harm: its expected rate now is its reference rate times the rest's
    rate now over the rest's rate then (capped at every row).
    """
    (now_v, now_n), (then_v, then_n) = rest_now, rest_then
    if now_n <= 0 or then_n <= 0 or then_v <= 0:
        return value
    return min(float(n), value * (now_v / now_n) / (then_v / then_n))


def _value(signal: Signal) -> Callable[[BinScores], Floats]:
    return _positives if signal == "positive" else _scores


def _positives(slots: BinScores) -> Floats:
    return slots.positive.astype(np.float64)


def _scores(slots: BinScores) -> Floats:
    return slots.score_sum.astype(np.float64)


def _score_sum(profile: Profile, edges: tuple[float, ...]) -> float:
    """Sum of a cohort's scores, each at its score bin's midpoint (cohorts keep no exact sum)."""
    counts = profile.score.by_action.sum(axis=0).astype(np.float64)
    bounds = np.clip(np.array([0.0, *edges, 1.0]), 0.0, 1.0)
    return float(np.sum(counts * (bounds[:-1] + bounds[1:]) / 2))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
