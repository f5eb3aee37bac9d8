"""Which days' labels changed: the decision days of the outcomes that arrived, found from those outcomes.

Outcomes arrive late and may concern any earlier day, so a profile history must
recompute the label part of a day when outcomes for its decisions arrive. Rather than
recomputing every stored day, :func:`arrived_outcomes` takes the days of *observation*
whose rows changed since the last run (from the source's ``versions("outcomes")``: file
names in the embedded store, a per-day aggregate on a table source) and joins only
those outcomes to the decisions, returning the UTC days of the decisions they concern.

With a label horizon the decisions read are those within the horizon of the new
outcomes (a few days of files), so the cost follows the new data; without one the join
reads the decision id and time of every stored decision (two narrow columns, but a
scan that grows with the history).

The same query counts, per day of observation, the outcomes that no profile uses:
those with no decision within the horizon (late ones, and outcomes of decisions that
were never logged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.storage.layout import day_key, day_start

__all__ = ["Arrivals", "arrived_outcomes", "contiguous_days"]

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Arrivals:
    """What the outcomes of some days of observation concern."""

    #: UTC days (``YYYY-MM-DD``) of the decisions whose outcomes are among them
    decision_days: frozenset[str]
    #: per day of observation, the outcomes no profile uses (no decision within the horizon)
    ignored: dict[str, int]


def contiguous_days(days: list[str]) -> list[list[str]]:
    """Sorted days grouped into runs of consecutive days (one range query each).

    >>> contiguous_days(["2026-03-01", "2026-03-02", "2026-03-05"])
    [['2026-03-01', '2026-03-02'], ['2026-03-05']]
    """
    runs: list[list[str]] = []
    for d in sorted(days):
        if runs and day_start(runs[-1][-1]) + DAY == day_start(d):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def arrived_outcomes(store: DecisionSource, observed_days: list[str], *, con: Any,
                     horizon: int | None) -> Arrivals:
    """The decision days that the outcomes observed on ``observed_days`` concern.

    Parameters
    ----------
    store
        The source of decisions and outcomes.
    observed_days
        UTC days of observation whose outcomes changed.
    con
        The source's connection (the queries run in its engine; two small results return).
    horizon
        The spec's label horizon in seconds: an outcome observed farther than this from its
        decision is not used, and the decisions read are only those within it of the
        outcomes. ``None``: every decision is read.
    """
    if not observed_days:
        return Arrivals(frozenset(), {})
    import ibis

    c, o = store.spec.columns, store.spec.outcomes
    runs = contiguous_days(observed_days)
    tables = [store.table("outcomes", con=con, between=Window(day_start(r[0]), day_start(r[-1]) + DAY))
              for r in runs]
    outcomes = tables[0] if len(tables) == 1 else ibis.union(*tables, distinct=False)
    new = outcomes.select(_oid=outcomes[o.decision_id], _obs=outcomes[o.observed_at])
    if horizon is None:
        decisions = store.table("decisions", con=con)
    else:
        reach = timedelta(seconds=horizon)
        decisions = store.table("decisions", con=con, between=Window(
            day_start(runs[0][0]) - reach, day_start(runs[-1][-1]) + DAY + reach))
    known = decisions.select(_did=decisions[c.decision_id], _ts=decisions[c.timestamp])
    joined = new.left_join(known, new._oid == known._did)
    used = joined._did.notnull()
    if horizon is not None:
        gap = joined._obs.epoch_seconds() - joined._ts.epoch_seconds()
        used = used & (gap <= horizon) & (gap >= -horizon)
    marked = joined.select(_obs_day=joined._obs.epoch_seconds() // 86400,
                           _dec_day=ibis.ifelse(used, joined._ts.epoch_seconds() // 86400, None),
                           _used=used)
    days = (marked.filter(marked._used).select("_dec_day").distinct()
            .to_pyarrow().column("_dec_day").to_pylist())
    unused = (marked.filter(~marked._used).group_by("_obs_day").aggregate(n=ibis._.count())
              .to_pyarrow().to_pylist())
    return Arrivals(frozenset(day_key(int(d)) for d in days),
                    {day_key(int(r["_obs_day"])): int(r["n"]) for r in unused})
