"""Schema: rows rejected at ingestion, new and vanished categories, columns that stopped arriving.

Every entry point (the decision logger, file and in-process ingest) validates
rows with the same validator (``core/schema.py``) and quarantines what it
rejects with a reason; this check turns the quarantine of a window into
findings, and compares categories and columns with the reference.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import stats

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.profile import CategoricalStats, NumericStats
from loopwatch.core.window import Window
from loopwatch.monitoring.checks import CheckContext, register_check
from loopwatch.monitoring.impact import grade, importance_shares
from loopwatch.monitoring.significance import two_proportions

__all__ = ["SchemaCheck"]


@register_check("schema")
class SchemaCheck:
    """Quarantined rows, unseen and vanished categories, features that stopped arriving.

    Parameters
    ----------
    min_unseen
        Smallest rise of the share of unseen category values reported.
    page_rejected
        Share of a window's rows rejected at ingestion that pages.
    """

    name = "schema"

    def __init__(self, *, min_unseen: float = 0.005, page_rejected: float = 0.01) -> None:
        if not 0 < min_unseen < 1 or not 0 < page_rejected < 1:
            raise ValueError(f"min_unseen and page_rejected must be in (0, 1); got {min_unseen}, "
                             f"{page_rejected}")
        self.min_unseen = min_unseen
        self.page_rejected = page_rejected

    def run(self, context: CheckContext) -> list[Finding]:
        window = context.current
        baseline = context.before(window)
        current, before = context.profile(window), context.profile(baseline)
        out = self._quarantine(context, window, current.n)
        if min(current.n, before.n) < context.spec.monitoring.min_decisions:
            return out
        reference = context.profile(context.reference)
        importance = importance_shares(context.spec, reference.by_bin, signal=context.signal)
        now = context.profiles(window)
        for name, cur in current.categorical.items():
            base = before.categorical[name]
            if cur.count and base.count:
                out += self._unseen(context, window, name, cur.unseen, cur.count, base.unseen,
                                    base.count, sorted(c.value or "" for c in now
                                                       if c.column == name and c.value not in
                                                       context.binning.categorical[name]))
                out += self._vanished(context, window, name, cur.counts, cur.count, base.counts,
                                      base.count)
        features: list[tuple[str, NumericStats | CategoricalStats]] = [
            *current.numeric.items(), *current.categorical.items()]
        for name, stats_ in features:
            if stats_.count == 0 and stats_.nulls == current.n:
                prior = before.numeric.get(name) or before.categorical[name]
                if prior.count > 0:
                    loss = importance.get(name, 0.0)
                    out.append(Finding(
                        kind="schema", check=self.name, statistic="present", start=window.start,
                        end=window.end, feature=name, value=0.0, threshold=float(prior.count),
                        n=current.n,
                        severity=max(Severity.WARNING,
                                     grade(input_loss=loss, monitoring=context.spec.monitoring)),
                        impact=loss,
                        message=(f"{name} stopped arriving: null in all {current.n:,} decisions "
                                 f"(present in {prior.count:,} of the baseline's); renamed or "
                                 "dropped upstream?"),
                        evidence={"p_value": 0.0, "importance": loss},
                    ))
        return out

    def _quarantine(self, context: CheckContext, window: Window, accepted: int) -> list[Finding]:
        by_reason: dict[str, int] = {}
        for (day, reason), n in context.quarantined.items():
            if window.start <= day < window.end:
                by_reason[reason] = by_reason.get(reason, 0) + n
        out = []
        for reason, n in sorted(by_reason.items()):
            share = n / (n + accepted)
            out.append(Finding(
                kind="schema", check=self.name, statistic="rejected", start=window.start,
                end=window.end, value=share, n=n,
                severity=Severity.PAGE if share >= self.page_rejected else Severity.WARNING,
                threshold=self.page_rejected,
                message=f"{n:,} rows ({share:.2%}) were rejected at ingestion: {reason}",
                evidence={"reason": reason},
            ))
        return out

    def _unseen(self, context: CheckContext, window: Window, name: str, unseen: int, count: int,
                base_unseen: int, base_count: int, new_values: list[str]) -> list[Finding]:
        share, base_share = unseen / count, base_unseen / base_count
        if share - base_share < self.min_unseen:
            return []
        named = f": {', '.join(new_values[:5])}" if new_values else ""
        return [Finding(
            kind="schema", check=self.name, statistic="unseen_share", start=window.start,
            end=window.end, feature=name, value=share, threshold=base_share, n=count,
            entity=f"{name}={new_values[0]}" if len(new_values) == 1 else None,
            severity=Severity.WARNING, impact=share - base_share,
            message=(f"{share:.1%} of {name} values are categories the reference never saw "
                     f"(baseline {base_share:.1%}){named}"),
            evidence={"p_value": two_proportions(unseen, count, base_unseen, base_count),
                      "new_values": new_values[:20]},
        )]

    def _vanished(self, context: CheckContext, window: Window, name: str,
                  cur: npt.NDArray[np.int64], count: int, base: npt.NDArray[np.int64],
                  base_count: int) -> list[Finding]:
        categories = context.binning.categorical[name]
        expected = base[:-1] / base_count * count
        gone = np.flatnonzero((cur[:-1] == 0) & (expected >= 20))
        out = []
        for i in gone:
            out.append(Finding(
                kind="schema", check=self.name, statistic="category_count", start=window.start,
                end=window.end, feature=name, entity=f"{name}={categories[i]}", value=0.0,
                threshold=float(expected[i]), n=count, severity=Severity.WARNING,
                message=(f"{name}={categories[i]} disappeared: 0 decisions where "
                         f"{expected[i]:,.0f} were expected"),
                evidence={"p_value": float(stats.poisson.pmf(0, expected[i])) if math.isfinite(
                    expected[i]) else math.nan},
            ))
        return out
