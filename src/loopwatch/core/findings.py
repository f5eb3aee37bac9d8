"""Findings: what a check or an evaluation concludes about one subject in one window.

A finding is plain data. Checks return them; the alert policy
(:mod:`loopwatch.monitoring.alert_policy`) groups them; the CLI renders them as a
table or JSON. Severity follows impact on decisions, and a page needs evidence
that persists or is decisive at once (:mod:`loopwatch.monitoring.evidence`),
never a raw p-value alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Literal

from loopwatch.core.window import Window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KINDS", "Finding", "Kind", "Severity", "exit_code", "findings_frame"]

Kind = Literal["schema", "health", "drift", "coverage", "volume", "system", "performance"]
KINDS: tuple[Kind, ...] = ("schema", "health", "drift", "coverage", "volume", "system", "performance")


class Severity(IntEnum):
    """How loudly a finding speaks: ``info`` is recorded, ``warning`` is shown, ``page`` wakes someone.

    Examples
    --------
    >>> Severity.PAGE > Severity.WARNING > Severity.INFO
    True
    >>> str(Severity.WARNING)
    'warning'
    """

    INFO = 0
    WARNING = 1
    PAGE = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    """One check's result for one subject (feature, cohort, metric) in one window.

    ``value`` is the statistic measured on the current window, ``interval`` its
    confidence interval (``None`` where a statistic has none, e.g. a schema
    change), ``threshold`` what it was compared with, ``impact`` the estimated
    effect on decisions (e.g. the change in decision rate), and ``evidence``
    any further numbers that support it (reference value, n, p-value...).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> f = Finding(kind="health", check="missing_rate", statistic="missing_rate",
    ...             start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 3, 8, tzinfo=UTC),
    ...             feature="amount", value=0.2, interval=(0.18, 0.22), threshold=0.05,
    ...             severity=Severity.PAGE, message="amount is missing in 20% of decisions")
    >>> f.to_dict()["severity"], f.to_dict()["cohort"]
    ('page', None)
    >>> f
    <Finding page health:missing_rate amount 2026-03-01..2026-03-08: 0.2>
    """

    kind: Kind
    check: str
    statistic: str
    start: datetime
    end: datetime
    value: float
    severity: Severity
    message: str
    feature: str | None = None
    cohort: str | None = None
    entity: str | None = None
    interval: tuple[float, float] | None = None
    threshold: float | None = None
    n: int | None = None
    impact: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        subject = " ".join(s for s in (self.feature, self.cohort and f"[{self.cohort}]", self.entity) if s)
        return (f"<Finding {self.severity} {self.kind}:{self.statistic}{' ' + subject if subject else ''} "
                f"{self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}: {self.value:.4g}>")

    @property
    def window(self) -> Window:
        """``[start, end)`` as a :class:`~loopwatch.core.window.Window`."""
        return Window(self.start, self.end)

    def to_row(self) -> dict[str, Any]:
        """One flat row: the fields, the interval as ``low`` and ``high``, evidence as a dict."""
        low, high = self.interval if self.interval is not None else (None, None)
        return {"severity": str(self.severity), "kind": self.kind, "check": self.check,
                "statistic": self.statistic, "feature": self.feature, "cohort": self.cohort,
                "entity": self.entity, "start": self.start, "end": self.end, "value": self.value,
                "low": low, "high": high, "threshold": self.threshold, "n": self.n,
                "impact": self.impact, "message": self.message, "evidence": dict(self.evidence)}

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON keys; times in ISO 8601; non-finite numbers as null."""
        return {
            "kind": self.kind, "check": self.check, "feature": self.feature,
            "cohort": self.cohort, "entity": self.entity,
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "statistic": self.statistic, "value": _json_number(self.value),
            "interval": None if self.interval is None else [_json_number(x) for x in self.interval],
            "threshold": _json_number(self.threshold), "n": self.n,
            "severity": str(self.severity), "impact": _json_number(self.impact),
            "message": self.message,
            "evidence": {k: _json_number(v) if isinstance(v, float) else v
                         for k, v in self.evidence.items()},
        }


def exit_code(findings: Iterable[Finding]) -> int:
    """The exit code of a run that found ``findings``: 1 (act on it) when one pages, else 0.

    The one place this rule is written: ``CheckRun.exit_code``, ``EvaluationReport.exit_code``
    and the command line use it; 2, a usage or input error, is the command line's own.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> day = datetime(2026, 3, 1, tzinfo=UTC)
    >>> def found(severity: Severity) -> Finding:
    ...     return Finding(kind="volume", check="volume", statistic="decisions", start=day, end=day,
    ...                    value=10.0, severity=severity, message="fewer decisions")
    >>> exit_code([]), exit_code([found(Severity.WARNING)]), exit_code([found(Severity.PAGE)])
    (0, 0, 1)
    """
    return 1 if any(f.severity == Severity.PAGE for f in findings) else 0


def findings_frame(findings: Iterable[Finding]) -> pd.DataFrame:
    """Findings as a pandas DataFrame, one row each (:meth:`Finding.to_row`), in their order.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> day = datetime(2026, 3, 1, tzinfo=UTC)
    >>> f = Finding(kind="volume", check="volume", statistic="decisions", start=day, end=day,
    ...             value=10.0, severity=Severity.WARNING, message="fewer decisions")
    >>> findings_frame([f])[["severity", "check", "value"]].to_dict("records")
    [{'severity': 'warning', 'check': 'volume', 'value': 10.0}]
    >>> list(findings_frame([]).columns)[:3]
    ['severity', 'kind', 'check']
    """
    import pandas as pd

    return pd.DataFrame([f.to_row() for f in findings], columns=list(_ROW_COLUMNS))


_ROW_COLUMNS = ("severity", "kind", "check", "statistic", "feature", "cohort", "entity", "start", "end",
                "value", "low", "high", "threshold", "n", "impact", "message", "evidence")


def _json_number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
