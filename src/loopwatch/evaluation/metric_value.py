"""The value every evaluation metric returns: a number with its interval, its n and its status.

A :class:`Metric` is in one of three states (:attr:`Metric.status`): ``ok``, a
value with its interval; ``not_enough_data``, a value but too few rows for an
honest interval (NaN interval, never tested or paged on); ``undefined``, no
value at all. The functions that compute metrics are in
:mod:`~loopwatch.evaluation.metrics`, which also exports :class:`Metric`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Metric", "MetricStatus"]

MetricStatus = Literal["ok", "not_enough_data", "undefined"]


@dataclass(frozen=True)
class Metric:
    """A metric's value with its confidence interval ``[low, high]`` and the rows it rests on.

    ``status`` is ``ok`` (a value; an interval unless the metric has none),
    ``not_enough_data`` (a value, but too few rows for an honest interval: NaN
    interval, ``reason`` says what is missing; never tested, never paged on) or
    ``undefined`` (no value).

    Examples
    --------
    >>> m = Metric("precision", 0.8, 0.49, 0.94, 10)
    >>> m.interval, m.covers(0.9), Metric.undefined("recall", n=0).to_dict()["value"]
    ((0.49, 0.94), True, None)
    >>> thin = Metric.not_enough_data("roc_auc", 0.93, n=400, reason="7 positives; an interval needs 25")
    >>> thin.status, thin.covers(0.93), thin.to_dict()["reason"]
    ('not_enough_data', False, '7 positives; an interval needs 25')
    """

    name: str
    value: float
    low: float
    high: float
    n: int
    status: MetricStatus = "ok"
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in ("ok", "not_enough_data", "undefined"):
            raise ValueError(f"status must be one of ok, not_enough_data, undefined; got {self.status!r}")

    @classmethod
    def undefined(cls, name: str, *, n: int) -> Metric:
        """The metric of a window where it has no value (NaN value and interval)."""
        return cls(name, math.nan, math.nan, math.nan, n, "undefined")

    @classmethod
    def not_enough_data(cls, name: str, value: float, *, n: int, reason: str) -> Metric:
        """A value without an interval: the window holds too few rows for one (``reason`` says which)."""
        return cls(name, value, math.nan, math.nan, n, "not_enough_data", reason)

    @property
    def interval(self) -> tuple[float, float]:
        return self.low, self.high

    def covers(self, truth: float) -> bool:
        """Whether the interval contains ``truth`` (False when the interval is NaN)."""
        return bool(self.low <= truth <= self.high)

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; non-finite numbers as null."""
        def number(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None
        return {"name": self.name, "value": number(self.value), "low": number(self.low),
                "high": number(self.high), "n": self.n, "status": self.status,
                "reason": self.reason or None}
