"""Evidence before a page: enough rows, and a change that either persists or is decisive at once.

The monitoring job runs every day over windows that overlap, so the same noisy
cohort is tested again and again; a false discovery rate controlled within one
run does not bound the pages of a stream of runs. A page candidate therefore
keeps its severity only when

1. it rests on at least ``min_rows`` rows (decisions, or labelled rows for a
   performance metric: its ``n``); and
2. either its test is decisive in one window, a p-value at most
   :data:`SINGLE_WINDOW_P` (divided by the size of its family for time-bucket
   cohorts: 24 hours of the day, 7 days of the week), a level that bounds the
   chance of one false page in a year of daily runs of about 300 tests each
   (Bonferroni: 0.1 / (365 × 300) ≈ 1e-6) whatever their dependence; or the
   same subject (check, statistic, feature, cohort, entity) was found, at
   warning severity or above, in the window of the same length just before
   it, which does not overlap it.

Otherwise it becomes a warning, its evidence saying why. A single noisy window
can raise a warning at most.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Final

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import DAY_OF_WEEK, HOUR_OF_DAY

__all__ = ["SINGLE_WINDOW_P", "family_size", "require_evidence", "subject"]

#: Largest p-value that pages from one window alone (see the module's docstring).
SINGLE_WINDOW_P: Final = 1e-6
_FAMILIES: Final = {HOUR_OF_DAY: 24, DAY_OF_WEEK: 7}


def subject(finding: Finding) -> tuple[object, ...]:
    """What a finding is about, whatever its window: check, statistic, feature, cohort, entity."""
    return (finding.check, finding.statistic, finding.feature, finding.cohort, finding.entity)


def family_size(finding: Finding) -> int:
    """How many tests a time-bucket cohort's test stands for (24 hours, 7 days; else 1).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> f = Finding(kind="performance", check="performance", statistic="precision", start=t,
    ...             end=t, value=0.0, severity=Severity.PAGE, message="", cohort="hour_of_day=6")
    >>> family_size(f)
    24
    """
    column = (finding.cohort or "").split("=", 1)[0]
    return _FAMILIES.get(column, 1)


def require_evidence(findings: Sequence[Finding], *, min_rows: int,
                     prior: Callable[[timedelta, Sequence[str]], Sequence[Finding]],
                     single_window_p: float = SINGLE_WINDOW_P) -> list[Finding]:
    """Demote the pages that lack evidence to warnings (see the module's docstring).

    ``prior(length, checks)`` returns the findings of the given checks for the
    run whose windows end ``length`` earlier; it is called at most once per
    window length, and only when a page needs it.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t, day = datetime(2026, 1, 2, tzinfo=UTC), timedelta(days=1)
    >>> noisy = Finding(kind="performance", check="performance", statistic="precision",
    ...                 start=t - day, end=t, value=0.0, n=12, severity=Severity.PAGE,
    ...                 message="", evidence={"p_value": 0.001})
    >>> [str(f.severity) for f in require_evidence([noisy], min_rows=30,
    ...                                            prior=lambda length, checks: [])]
    ['warning']
    """
    unconfirmed: dict[timedelta, set[str]] = {}
    verdicts: list[str | None] = []
    for f in findings:
        verdict = None
        if f.severity == Severity.PAGE:
            p = f.evidence.get("p_value")
            if f.n is not None and f.n < min_rows:
                verdict = f"too few rows to page: {f.n} < {min_rows}"
            elif isinstance(p, float | int) and math.isfinite(p) \
                    and p * family_size(f) <= single_window_p:
                verdict = None
            else:
                verdict = "persistence"
                unconfirmed.setdefault(f.end - f.start, set()).add(f.check)
        verdicts.append(verdict)
    earlier: dict[timedelta, set[tuple[object, ...]]] = {}
    for length, checks in unconfirmed.items():
        earlier[length] = {subject(g) for g in prior(length, sorted(checks))
                           if g.severity >= Severity.WARNING and g.end - g.start == length}
    out = []
    for f, verdict in zip(findings, verdicts, strict=True):
        if verdict == "persistence":
            if subject(f) in earlier[f.end - f.start]:
                f = replace(f, evidence={**f.evidence, "persisted": True})
                verdict = None
            else:
                verdict = ("one window only: a page once the same change shows in the window "
                           "before it, or once its test is decisive in one window")
        if verdict is not None:
            f = replace(f, severity=Severity.WARNING, evidence={**f.evidence, "held_back": verdict})
        out.append(f)
    return out
