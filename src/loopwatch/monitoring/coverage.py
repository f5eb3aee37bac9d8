"""Coverage: does every entity (merchant category, item, user segment...) still get real scores?

An entity's coverage is the share of its decisions whose score differs from
its single most frequent score (bin): a model that scores an entity gives it
a spread of scores, while a pipeline that maps it to a default (an unknown
category, a missing embedding, a fallback) gives it one score again and again.
Coverage is compared with the entity's own in the baseline or, for an entity
the baseline never saw, with the reference as a whole. A collapse names the
entity: its decisions are being made, but not by the model.
"""

from __future__ import annotations

from loopwatch.core.findings import Finding, Severity
from loopwatch.core.intervals import wilson
from loopwatch.core.profile import Profile
from loopwatch.monitoring.checks import CheckContext, register_check
from loopwatch.monitoring.significance import two_proportions

__all__ = ["CoverageCheck", "coverage"]


def coverage(profile: Profile) -> tuple[int, int]:
    """``(decisions scored outside the most frequent score bin, decisions)`` of a profile.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> import numpy as np
    >>> from loopwatch.core.profile import Binning, ScoreStats
    >>> empty = Binning(numeric={}, categorical={}, score=(0.25, 0.5, 0.75)).empty(
    ...     datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    >>> stuck = ScoreStats.empty(4, 1).by_action + np.array([[0, 90, 0, 0]])
    >>> from dataclasses import replace
    >>> coverage(replace(empty, score=replace(empty.score, by_action=stuck)))
    (0, 90)
    """
    scores = profile.score.by_action.sum(axis=0)
    total = int(scores.sum())
    return (total - int(scores.max())) if total else 0, total


@register_check("coverage")
class CoverageCheck:
    """Entities whose coverage collapsed to ``collapse`` × the expected or less (a page)."""

    name = "coverage"

    def __init__(self, *, collapse: float = 0.5) -> None:
        if not 0 < collapse < 1:
            raise ValueError(f"collapse must be in (0, 1); got {collapse}")
        self.collapse = collapse

    def run(self, context: CheckContext) -> list[Finding]:
        if not context.spec.entities:
            return []
        covered_ref, total_ref = coverage(context.profile(context.reference))
        if not total_ref:
            return []
        window = context.current
        now = context.profiles(window)
        out: list[Finding] = []
        for column in context.spec.entities:
            entities = sorted(c for c in now if c.column == column)
            healthy = 0
            for cohort in entities:
                covered, total = coverage(now[cohort])
                if total < context.spec.monitoring.min_decisions:
                    continue
                # an entity an open alert holds is compared with the days before its onset
                entity = f"{column}={cohort.value}"
                before = context.profiles(context.baseline_for(window, "coverage", entity)).get(cohort)
                base_covered, base_total = (coverage(before) if before is not None
                                            else (0, 0))
                known = base_total >= context.spec.monitoring.min_decisions
                expected = (base_covered / base_total if known else covered_ref / total_ref)
                low, high = wilson(covered, total)
                if not high < self.collapse * expected:
                    healthy += 1
                    continue
                p = (two_proportions(covered, total, base_covered, base_total) if known
                     else two_proportions(covered, total, covered_ref, total_ref))
                baseline_text = ("its baseline" if known else "the reference (a new entity)")
                out.append(Finding(
                    kind="coverage", check=self.name, statistic="coverage", start=window.start,
                    end=window.end, entity=entity, cohort=str(cohort),
                    value=covered / total, interval=(low, high), threshold=expected, n=total,
                    severity=Severity.PAGE, impact=covered / total - expected,
                    message=(f"{column}={cohort.value}: {1 - covered / total:.1%} of its "
                             f"{total:,} decisions get one and the same score (coverage "
                             f"{covered / total:.0%}, expected {expected:.0%} from {baseline_text}); "
                             "the model is not scoring it"),
                    evidence={"p_value": p, "expected": expected, "known_before": known},
                ))
            if entities:
                share = healthy / len(entities)
                if share < 1:
                    out.append(Finding(
                        kind="coverage", check=self.name, statistic="entities_covered",
                        start=window.start, end=window.end, entity=column, value=share,
                        n=len(entities), severity=Severity.INFO,
                        message=f"{share:.0%} of {column} values get non-trivial scores",
                    ))
        return out
