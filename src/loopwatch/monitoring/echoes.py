"""Echoes: which input change can explain a performance change, finding by finding and by size.

Labels arrive late, so an input incident shows again in the performance check a
week after it was raised. The alert policy lists such a performance change under
its cause (or, when the cause was raised in an earlier run, drops it as that
incident's echo). It asks three questions of each performance finding on its own,
not of the cohort's findings together:

1. *Where*: does the input change reach the finding's cohort (:func:`reaches`)?
2. *When*: do the days overlap (the caller's)?
3. *How much* (:func:`can_explain`): could the change the input made to the
   decisions produce a move of that metric this large? An input acts on
   performance only through the scores. A drift or a missing-value change comes
   with its decision shift (``impact``: the relative change in positive decisions
   it caused, :mod:`~loopwatch.monitoring.impact`); from it follows the most a
   metric can move:

   * **recall** can fall only through the flags the change removed: at most
     ``down`` of the flags ``D``, all of them true positives, out of
     ``TP = precision · D``: a relative fall of at most ``down / precision``. A change
     that only adds positive decisions cannot lower recall.
   * **precision** falls at most to ``p / (1 + up)`` (every added flag a false
     positive) or ``(p − down) / (1 − down)`` (every removed flag a true positive).
   * **false-positive rate** can rise only through added flags (``up > 0``).
   * **ROC AUC** and value per decision: any change of the inputs can reorder the
     scores; no bound is taken.

   The fall is judged at the edge of the finding's interval: a change is
   explained when the interval reaches what the cause can produce. A cause whose
   decision shift is not known (an input stuck at one value — its input loss is
   not a direction —, an unscored entity, an outage with errors) bounds nothing:
   it can explain any metric, as before.

A label-definition change (the world counts other outcomes as positive) moves
recall with no change in decisions; beside a live drift that *adds* positive
decisions it is not that drift's echo, however the days overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loopwatch.core.alerts import Alert, AlertState
from loopwatch.core.findings import Finding, Kind, Severity
from loopwatch.core.spec import Spec

__all__ = ["INPUT_KINDS", "Reach", "can_explain", "known_cause", "live_performance_onsets", "reach_of",
           "reaches"]

#: The input families whose changes can echo in performance a week later.
INPUT_KINDS: frozenset[Kind] = frozenset({"health", "drift", "coverage", "schema"})
#: Input families that say an input is broken (missing, stuck, out of range, not scored),
#: not shifted: the model decides worse wherever the input is broken.
_FAILURES: frozenset[Kind] = frozenset({"health", "coverage"})
#: Health statistics whose ``impact`` is a decision shift (the others': input loss, none).
_SHIFTS = frozenset({"missing_rate", "out_of_range"})


@dataclass(frozen=True)
class Reach:
    """How far a cause moved the positive decisions: the largest relative rise and fall its
    findings estimate; ``bounded`` is false when one of them has no known decision shift."""

    up: float = 0.0
    down: float = 0.0
    bounded: bool = True


def _shift(kind: str, check: str, statistic: str, impact: float | None) -> float | None:
    """A finding's decision shift, or ``None`` when its ``impact`` is not one."""
    if impact is None or not math.isfinite(impact):
        return None
    if kind == "drift" or (kind == "health" and statistic in _SHIFTS) \
            or (kind == "coverage" and check == "slice"):
        return impact
    return None


def reach_of(findings: Iterable[Finding | Mapping[str, Any]]) -> Reach:
    """The :class:`Reach` of a cause from its findings (objects, or as the control plane keeps
    them), those of warning or more; performance findings (echoes listed under it) are not
    the cause's."""
    up = down = 0.0
    for f in findings:
        if isinstance(f, Finding):
            kind: str = f.kind
            check, statistic, impact, severity = f.check, f.statistic, f.impact, f.severity
        else:
            kind, check, statistic = str(f.get("kind")), str(f.get("check")), str(f.get("statistic"))
            impact, severity = f.get("impact"), Severity[str(f.get("severity", "info")).upper()]
        if kind == "performance" or severity <= Severity.INFO:
            continue
        shift = _shift(kind, check, statistic, impact)
        if shift is None:
            return Reach(bounded=False)
        up, down = max(up, shift), max(down, -shift)
    return Reach(up, min(down, 1.0))


def can_explain(reach: Reach, finding: Finding) -> bool:
    """Could a cause of this :class:`Reach` move ``finding``'s metric as far as it moved?
    (see the module's docstring)."""
    if not reach.bounded:
        return True
    metric, ref = finding.statistic, finding.threshold
    reached = finding.interval[1] if finding.interval is not None else finding.value
    if metric == "false_positive_rate":
        return reach.up > 0
    if ref is None or not math.isfinite(ref) or not math.isfinite(reached):
        return True
    if metric == "recall":
        precision = finding.evidence.get("reference_precision")
        if not isinstance(precision, float | int) or not math.isfinite(precision) or precision <= 0:
            return True
        return reached >= ref * (1 - min(1.0, reach.down / precision))
    if metric == "precision":
        lowest = ref / (1 + reach.up)
        if reach.down > 0:
            lowest = min(lowest, max(0.0, (ref - reach.down) / (1 - reach.down)) if reach.down < 1 else 0.0)
        return reached >= lowest
    return True


def reaches(kind: Kind, where: set[str | None], cohort: str | None, spec: Spec) -> bool:
    """Does an input change of family ``kind`` seen in ``where`` (``None``: the whole traffic)
    explain a performance change of ``cohort`` (``None``: the whole traffic)?

    * in the cohorts where it is seen (the whole traffic included);
    * a global change: in cohorts whose features are not profiled (hours, days, entities,
      sources), where no input change of their own could be seen; not in a profiled cohort
      whose own inputs did not move (a minority's drop beside a global drift, or beside
      another incident's outage, is its own cause);
    * a *failure* (an input missing, stuck or not scored) in part of the traffic (some
      hours, one entity): in the whole traffic and the unprofiled cohorts too, which hold
      the decisions made without that input.
    """
    if cohort in where:
        return True
    unprofiled = cohort is not None and cohort.split("=", 1)[0] not in spec.cohorts
    return (None in where or kind in _FAILURES) and (cohort is None or unprofiled)


def known_cause(finding: Finding, alerts: Sequence[Alert], spec: Spec,
                since: datetime | None) -> Alert | None:
    """The raised input alert (live or resolved) whose days overlap the labels window of a
    performance finding, that reaches its cohort (:func:`reaches`) and can explain its size
    (:func:`can_explain`). Labels arrive late: a window that holds an incident's days shows
    its performance change a week after the incident was raised, and ended. An input alert
    that began after ``since`` (the onset of the cohort's live performance alert) is not
    its cause."""
    for alert in alerts:
        if alert.kind not in INPUT_KINDS or (since is not None and alert.onset > since):
            continue
        until = (alert.resolved_at or alert.last_seen) + timedelta(days=1)
        if not (finding.start < until and alert.onset < finding.end):
            continue
        if reaches(alert.kind, {alert.cohort, *alert.cohorts}, finding.cohort, spec) \
                and can_explain(reach_of(alert.findings), finding):
            return alert
    return None


def live_performance_onsets(alerts: Sequence[Alert]) -> dict[str | None, datetime]:
    """The onset of each cohort's live performance alert: an input change that began after it
    cannot be its cause (a minority's drop keeps its alert when an outage follows)."""
    return {a.cohort: a.onset for a in alerts
            if a.kind == "performance" and a.state is not AlertState.RESOLVED}
