"""Headlines: one sentence per alert that a person on call understands without the findings.

A headline says what is wrong, where (the cohorts, hours given as ranges), how
much, and since when; a symptom the alert suppressed is mentioned when it adds
what a person needs ("40% errors there").

Examples
--------
>>> hours(["hour_of_day=11", "hour_of_day=12", "hour_of_day=13", "hour_of_day=18"])
'hours 11–13 and 18'
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime

from loopwatch.core.findings import Finding, Kind, Severity

__all__ = ["headline", "hours"]

_HOUR = "hour_of_day="


def hours(cohorts: Iterable[str]) -> str:
    """Hour-of-day cohorts as ranges: ``hours 11–13 and 18–20``."""
    values = sorted({int(c.removeprefix(_HOUR)) for c in cohorts if c.startswith(_HOUR)})
    runs: list[list[int]] = []
    for h in values:
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    parts = [f"{r[0]}–{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs]
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""
    return f"hour{'s' if len(values) > 1 else ''} {text}" if text else ""


def headline(kind: Kind, findings: Sequence[Finding], suppressed: Sequence[Finding], *,
             source: str | None, entity: str | None, cohort: str | None,
             since: datetime | None = None) -> str:
    """One line for an alert of ``kind`` holding ``findings`` and suppressing ``suppressed``;
    ``since`` is the incident's onset (default: the start of the shortest window shown)."""
    shown = [f for f in findings if f.severity > Severity.INFO] or list(findings)
    top = _shortest(shown)
    began = since if since is not None else min(f.start for f in top)
    since_text = f" since {began:%m-%d}"
    where = _where([f.cohort for f in shown])
    if kind == "health":
        names = _names(f.feature for f in shown)
        missing = [f.value for f in top if f.statistic == "missing_rate"] or [
            f.value for f in shown if f.statistic == "missing_rate"]
        if missing:
            subject = f"{source} inputs {names}" if source else names
            return (f"{subject} missing in up to {max(missing):.0%} of decisions{where}"
                    f"{since_text}" + _errors_there(suppressed))
        first = top[0]
        if first.check == "slice":  # the slice's own sentence says what share and what happened
            return first.message + _errors_there(suppressed)
        if first.statistic == "out_of_range":
            return (f"{names}: {first.value:.0%} of values outside the reference range{where}"
                    f"{since_text}")
        if first.statistic in {"variance", "distinct"}:
            return f"{names} stuck at one value{where}{since_text}: the model has lost this input"
        return f"{names}: {first.message}"
    if kind == "drift":
        first = max(top, key=lambda f: abs(f.impact or 0.0))
        effect = (f"; estimated {first.impact:+.0%} positive decisions" if first.impact is not None
                  else "")
        return f"{_names(f.feature for f in shown)} drifted from the reference{where}{effect}{since_text}"
    if kind == "coverage":
        first = top[0]
        if entity is None:  # a slice: its own sentence says what share and what happened
            return first.message
        return (f"{entity} is not being scored: {1 - first.value:.0%} of its {first.n or 0:,} "
                f"decisions get one and the same score{since_text}")
    if kind == "volume":
        first = top[0]
        stale = [f for f in shown if f.check == "staleness"]
        if stale:  # no decision at all: the staleness check's sentence says since when
            return stale[0].message
        ratio = first.value / first.threshold if first.threshold else float("nan")
        subject = f"decisions from source {source}" if source else (
            f"decisions of {cohort}" if cohort else "decisions")
        word = "dropped" if ratio < 1 else "rose"
        return f"{subject} {word} to {ratio:.0%} of the seasonal baseline{since_text}"
    if kind == "system":
        first = max(top, key=lambda f: f.value)
        if first.statistic == "error_rate":
            base = first.threshold or 0.0
            return (f"{first.value:.0%} of decisions log an error{_where([first.cohort])} "
                    f"(baseline {base:.1%}){since_text}")
        return f"p99 latency {first.value:.3g} ms{_where([first.cohort])} (limit " \
               f"{first.threshold or 0:.3g} ms){since_text}"
    if kind == "performance":
        metrics = ", ".join(f"{f.statistic} {f.threshold or 0:.3g} → {f.value:.3g}"
                            for f in top[:3])
        return (f"performance changed for {cohort or 'all decisions'}: {metrics} "
                f"(labels of {top[0].start:%m-%d} to {top[0].end:%m-%d})")
    return top[0].message


def _shortest(findings: Sequence[Finding]) -> list[Finding]:
    length = min(f.end - f.start for f in findings)
    return sorted((f for f in findings if f.end - f.start == length),
                  key=lambda f: (-f.severity, -abs(f.impact or 0.0)))


def _names(features: Iterable[str | None]) -> str:
    names = sorted({f for f in features if f is not None})
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _where(cohorts: Iterable[str | None]) -> str:
    found = sorted({c for c in cohorts if c is not None})
    if not found:
        return ""
    at_hours = hours(found)
    others = [c for c in found if not c.startswith(_HOUR)]
    parts = [f"at {at_hours}"] if at_hours else []
    if others:
        parts.append("for " + ", ".join(others[:3]) + (f" and {len(others) - 3} more"
                                                        if len(others) > 3 else ""))
    return " " + " ".join(parts)


def _errors_there(suppressed: Sequence[Finding]) -> str:
    """The error rate in the cohorts of the suppressed error findings (median), if any."""
    rates = [f.value for f in suppressed if f.statistic == "error_rate" and f.cohort is not None]
    if not rates:
        rates = [f.value for f in suppressed if f.statistic == "error_rate"]
    return f"; {statistics.median(rates):.0%} errors there" if rates else ""
