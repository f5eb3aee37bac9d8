"""whylogs' default drift job; runs inside benchmarks/competitors/.venv-whylogs.

Profiles reference and current with ``why.log(pandas)`` (the profiling is part of
the timed job), then ``calculate_drift_scores(..., with_thresholds=True)`` with
the default algorithm per column: a Kolmogorov-Smirnov test on the KLL sketches
of numeric columns and a chi-square test on the frequent-items sketches of
string columns. A feature counts as flagged when its ``drift_category`` is
``DRIFT`` (``POSSIBLE_DRIFT`` is reported per feature but not counted).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import whylogs as why
from _runner import main
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores


def drift_job(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> dict[str, Any]:
    reference_view = why.log(reference).profile().view()
    current_view = why.log(current).profile().view()
    scores = calculate_drift_scores(
        target_view=current_view, reference_view=reference_view, with_thresholds=True
    )
    flagged = []
    per_feature: dict[str, Any] = {}
    for name in numeric + categorical:
        score = scores.get(name)
        if score is None:
            per_feature[name] = None
            continue
        category = str(score.get("drift_category"))
        per_feature[name] = {
            "algorithm": score.get("algorithm"),
            "pvalue": score.get("pvalue"),
            "statistic": score.get("statistic"),
            "drift_category": category,
        }
        if category == "DRIFT":
            flagged.append(name)
    possible = [n for n, s in per_feature.items() if s and s["drift_category"] == "POSSIBLE_DRIFT"]
    return {
        "flagged": flagged,
        "per_feature": per_feature,
        "notes": f"POSSIBLE_DRIFT (not counted): {', '.join(possible) or 'none'}",
    }


if __name__ == "__main__":
    main("whylogs", why.__version__, drift_job)
