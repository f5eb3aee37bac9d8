"""Staleness: no decision where decisions are expected is the loudest finding there is.

A pipeline that stopped logging leaves nothing for the other checks to test, and a
run that tests nothing would read as healthy. This check compares the time of the
last decision before the time checked with the spec's ``inputs.cadence`` (how often
decisions arrive at the least, one day by default) and pages when it is older: a
cron job watching a stopped pipeline, or one asked about a day that has not come
yet, goes red.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import ALL, utc_day_start
from loopwatch.monitoring.checks import CheckContext, Window, register_check

__all__ = ["StalenessCheck", "describe_age"]


def describe_age(age: timedelta) -> str:
    """An age in the largest whole unit that fits, for messages.

    Examples
    --------
    >>> describe_age(timedelta(days=23, hours=5)), describe_age(timedelta(hours=3))
    ('23 days', '3 hours')
    """
    seconds = int(age.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


@register_check("staleness")
class StalenessCheck:
    """Pages when the last decision before the time checked is older than ``inputs.cadence``.

    Its test: were decisions a Poisson stream at the rate of the 30 days up to the last
    one (and at least one per cadence, as the spec promises), a gap this long would have
    probability ``exp(-expected)``. A busy pipeline silent for a day is decisive at once;
    one that logs a decision a day and misses one is a warning until the next day.
    """

    name = "staleness"

    def run(self, context: CheckContext) -> list[Finding]:
        cadence = context.spec.inputs.cadence_delta
        last = context.last_decision
        if last is not None and context.as_of - last <= cadence:
            return []
        since: datetime = last if last is not None else context.reference.start
        age = context.as_of - since
        expected = max(age / cadence, _rate(context, last) * (age / timedelta(hours=1)))
        what = (f"no decision since {last:%Y-%m-%d %H:%M} UTC" if last is not None
                else "no decision at all")
        return [Finding(
            kind="volume", check=self.name, statistic="hours_since_last_decision",
            start=since, end=context.as_of, value=age / timedelta(hours=1),
            threshold=cadence / timedelta(hours=1), severity=Severity.PAGE,
            message=(f"{what}: {describe_age(age)} before {context.as_of:%Y-%m-%d %H:%M} UTC, the time "
                     f"checked, where one is expected at least every {context.spec.inputs.cadence} "
                     "(inputs.cadence); is the pipeline that logs decisions running?"),
            evidence={"last_decision": None if last is None else last.isoformat(),
                      "cadence": context.spec.inputs.cadence, "expected_decisions": expected,
                      "p_value": math.exp(-expected)},
        )]


def _rate(context: CheckContext, last: datetime | None) -> float:
    """Decisions an hour over the 30 days up to the last decision (0 when none are profiled)."""
    if last is None:
        return 0.0
    end = utc_day_start(last) + timedelta(days=1)
    window = Window(end - timedelta(days=30), end)
    counts = context.daily_counts(window).get(ALL, {})
    days = [n for day, n in counts.items() if window.start <= day < window.end]
    return sum(days) / (window.days * 24)
