"""The drift check: features whose distribution moved from the reference, graded by impact.

The global cohort is checked for every feature; each cohort value for the
important features (conditional drift: feature × cohort). Statistics and the
noise-aware decision are :func:`~loopwatch.monitoring.drift.drift_report`'s;
severity follows the change in positive decisions the shift causes
(:func:`~loopwatch.monitoring.impact.decision_shift`), not the p-value.
"""

from __future__ import annotations

import math

import numpy as np

from loopwatch.core.findings import Finding
from loopwatch.core.profile import ALL, BinScores, Cohort, Profile
from loopwatch.core.window import Window
from loopwatch.monitoring.checks import CheckContext, register_check
from loopwatch.monitoring.drift import MIN_EFFECT, FeatureDrift, drift_report
from loopwatch.monitoring.impact import decision_shift, grade, importance_shares, slot_shares

__all__ = ["DriftCheck"]


@register_check("drift")
class DriftCheck:
    """Drift of every feature (global) and of the important ones per cohort, vs the reference.

    Parameters
    ----------
    min_effect
        Smallest noise-corrected divergence reported (PSI scale; see ``drift_report``).
    cohort_importance
        Features whose importance share is at least this fraction of an even share
        (``1 / features``) are also checked per cohort value.
    """

    name = "drift"

    def __init__(self, *, min_effect: float = MIN_EFFECT, cohort_importance: float = 0.5) -> None:
        if min_effect <= 0:
            raise ValueError(f"min_effect must be > 0; got {min_effect}")
        if cohort_importance < 0:
            raise ValueError(f"cohort_importance must be >= 0; got {cohort_importance}")
        self.min_effect = min_effect
        self.cohort_importance = cohort_importance

    def run(self, context: CheckContext) -> list[Finding]:
        reference = context.profile(context.reference)
        importance = importance_shares(context.spec, reference.by_bin, signal=context.signal)
        important = {n for n, s in importance.items()
                     if s >= self.cohort_importance / max(len(importance), 1)}
        out: list[Finding] = []
        for window in context.windows:
            now = context.profiles(window)
            rates_now = now[ALL].by_bin if ALL in now else {}
            for cohort, current, before in context.pairs(window, context.reference):
                if not current.binned:
                    continue
                for drift in drift_report(before, current, context.binning,
                                          fdr=context.spec.monitoring.fdr,
                                          min_effect=self.min_effect):
                    if not drift.drifted or (cohort != ALL and drift.feature not in important):
                        continue
                    out.append(self._finding(context, window, cohort, drift, before, current,
                                             rates_now.get(drift.feature),
                                             reference.by_bin.get(drift.feature),
                                             importance[drift.feature]))
        return out

    def _finding(self, context: CheckContext, window: Window, cohort: Cohort, drift: FeatureDrift,
                 before: Profile, current: Profile, now: BinScores | None,
                 then: BinScores | None, importance: float) -> Finding:
        name = drift.feature
        shift = math.nan
        if now is not None and then is not None:
            ref_stats = before.numeric.get(name) or before.categorical[name]
            cur_stats = current.numeric.get(name) or current.categorical[name]
            estimate = decision_shift(_present(slot_shares(ref_stats)),
                                      _present(slot_shares(cur_stats)), rates_now=now,
                                      rates_then=then, min_rows=context.spec.monitoring.min_decisions,
                                      signal=context.signal, n_reference=ref_stats.count,
                                      n_current=cur_stats.count)
            shift, relative = estimate.assured(), estimate.relative
        else:
            relative = math.nan
        s = drift.stats
        where = "" if cohort == ALL else f" for {cohort}"
        impact_text = (f"; estimated {relative:+.0%} positive decisions" if math.isfinite(relative)
                       else "")
        return Finding(
            kind="drift", check=self.name, statistic="divergence", start=window.start,
            end=window.end, feature=name, cohort=None if cohort == ALL else str(cohort),
            value=s.effect, threshold=drift.min_effect, n=s.n_cur,
            severity=grade(relative_shift=relative, monitoring=context.spec.monitoring),
            impact=relative if math.isfinite(relative) else None,
            message=(f"{name}{where} drifted from the reference (PSI {s.psi:.3f}, JS {s.js:.3f}"
                     + (f", KS {s.ks:.3f}" if math.isfinite(s.ks) else "") + f"){impact_text}; "
                     f"importance share {importance:.0%}"),
            evidence={"p_value": s.p_value, "psi": s.psi, "js": s.js, "ks": s.ks,
                      "wasserstein": s.wasserstein, "chi2": s.chi2, "n_reference": s.n_ref,
                      "decision_shift": shift if math.isfinite(shift) else None,
                      "importance": importance},
        )


def _present(shares: np.ndarray) -> np.ndarray:
    """Shares among present values (drift is about them; missing values are health's)."""
    out = shares.copy()
    out[0] = 0.0
    total = out.sum()
    return out / total if total else out
