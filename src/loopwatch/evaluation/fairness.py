"""Fairness view: per cohort column, the largest gap between its cohorts in error rates, with an interval.

For each cohort column (``region``, ``device``...) and each of the
false-positive rate, recall and precision, the cohort values with the highest
and the lowest rate are found among those with at least ``min_n`` rows in the
metric's denominator, and their difference is given with Newcombe's hybrid
score interval for a difference of two independent proportions (Newcombe 1998,
"Interval estimation for the difference between independent proportions:
comparison of eleven methods", *Statistics in Medicine* 17:873-890, method 10),
built from the two Wilson intervals. The interval is for that pair's
difference; choosing the pair with the largest observed gap makes the gap
itself read high when there are many small cohorts, which ``min_n`` limits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopwatch.core.profile import Binning, Cohort, Profile
from loopwatch.core.spec import Spec
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.metrics import Metric, false_positive_rate, precision, recall
from loopwatch.evaluation.profile_metrics import DEFAULT_THRESHOLD

__all__ = ["FAIRNESS_METRICS", "FairnessGap", "fairness_gaps", "newcombe_difference"]

#: The metrics compared between cohorts.
FAIRNESS_METRICS = ("false_positive_rate", "recall", "precision")


@dataclass(frozen=True)
class FairnessGap:
    """The largest gap in one metric between the values of one cohort column.

    ``gap = high.value - low.value`` (never negative), ``interval`` its
    confidence interval, ``cohorts`` how many values had ``min_n`` rows.
    """

    column: str
    metric: str
    high_value: str
    low_value: str
    high: Metric
    low: Metric
    gap: float
    interval: tuple[float, float]
    cohorts: int

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        def number(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None
        return {"column": self.column, "metric": self.metric, "gap": number(self.gap),
                "low": number(self.interval[0]), "high": number(self.interval[1]),
                "highest": {**self.high.to_dict(), "cohort": self.high_value},
                "lowest": {**self.low.to_dict(), "cohort": self.low_value}, "cohorts": self.cohorts}


def newcombe_difference(first: Metric, second: Metric) -> tuple[float, float]:
    """Interval of ``first.value - second.value`` from the two proportions' Wilson intervals.

    Newcombe's hybrid score method: ``L = d - √((p1 - l1)² + (u2 - p2)²)``,
    ``U = d + √((u1 - p1)² + (p2 - l2)²)``.

    Examples
    --------
    Newcombe's worked example, 56/70 against 48/80, whose interval he gives as
    (0.0524, 0.3339):

    >>> from loopwatch.core.intervals import wilson
    >>> a = Metric("recall", 56 / 70, *wilson(56, 70), n=70)
    >>> b = Metric("recall", 48 / 80, *wilson(48, 80), n=80)
    >>> [round(x, 4) for x in newcombe_difference(a, b)]
    [0.0524, 0.3339]
    """
    d = first.value - second.value
    low = d - math.sqrt((first.value - first.low) ** 2 + (second.high - second.value) ** 2)
    high = d + math.sqrt((first.high - first.value) ** 2 + (second.value - second.low) ** 2)
    return low, high


def fairness_gaps(profiles: Mapping[Cohort, Profile], binning: Binning, spec: Spec, *,
                  columns: Sequence[str] | None = None, threshold: float | None = None, min_n: int = 30,
                  confidence: float = 0.95) -> list[FairnessGap]:
    """The largest gap between the cohorts of each column, per metric, as plain data.

    Parameters
    ----------
    profiles
        Profiles of one window by cohort.
    binning
        Their binning.
    spec
        The monitored model (threshold; default columns).
    columns
        Cohort columns to compare (default: ``spec.cohorts``).
    threshold
        Decision threshold (default: the spec's, else 0.5).
    min_n
        A cohort value takes part when the metric's denominator (negatives for
        the false-positive rate, positives for recall, flagged rows for
        precision) holds at least this many labelled rows.
    confidence
        Level of the intervals.

    Returns
    -------
    list of FairnessGap
        One per column and metric with at least two cohort values taking part.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from datetime import UTC, datetime
    >>> import numpy as np
    >>> from loopwatch.core.profile import ScoreStats
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}],
    ...                           "cohorts": ["region"]})
    >>> binning = Binning(numeric={}, categorical={}, score=(0.5,))
    >>> day = datetime(2026, 1, 1, tzinfo=UTC)
    >>> def region(name, by_label):
    ...     c, counts = Cohort("region", name), np.array(by_label)
    ...     stats = ScoreStats(counts, np.zeros((1, 2), np.int64), np.zeros((3, 2)), np.zeros((3, 2)))
    ...     return c, replace(binning.empty(day, day, c), n=int(counts.sum()), score=stats)
    >>> profiles = dict([region("EU", [[950, 50], [40, 60], [0, 0]]),
    ...                  region("NA", [[900, 100], [70, 30], [0, 0]])])
    >>> gap = {g.metric: g for g in fairness_gaps(profiles, binning, spec)}["recall"]
    >>> gap.high_value, gap.low_value, round(gap.gap, 2), gap.interval[0] > 0
    ('EU', 'NA', 0.3, True)
    """
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise ValueError(f"min_n must be an integer >= 1; got {min_n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    chosen = threshold if threshold is not None else spec.threshold
    chosen = DEFAULT_THRESHOLD if chosen is None else float(chosen)
    bins = ScoreBins.from_edges(binning.score)
    wanted = tuple(columns) if columns is not None else spec.cohorts
    functions = {"false_positive_rate": false_positive_rate, "recall": recall, "precision": precision}
    out: list[FairnessGap] = []
    for column in wanted:
        members = sorted((c, p) for c, p in profiles.items() if c.column == column and c.value is not None)
        for name in FAIRNESS_METRICS:
            measured = [(c.value or "", functions[name](p.score.by_label, bins=bins, threshold=chosen,
                                                        confidence=confidence)) for c, p in members]
            eligible = [(v, m) for v, m in measured if m.n >= min_n and math.isfinite(m.value)]
            if len(eligible) < 2:
                continue
            high_value, high = max(eligible, key=lambda item: (item[1].value, item[0]))
            low_value, low = min(eligible, key=lambda item: (item[1].value, item[0]))
            out.append(FairnessGap(column=column, metric=name, high_value=high_value, low_value=low_value,
                                   high=high, low=low, gap=high.value - low.value,
                                   interval=newcombe_difference(high, low), cohorts=len(eligible)))
    return out
