"""NannyML's default univariate drift job; runs inside benchmarks/competitors/.venv-nannyml.

``UnivariateDriftCalculator`` with its default methods (Jensen-Shannon for
continuous and categorical columns) and its default thresholds (mean + 3 standard
deviations of the method's value over the reference chunks). Those thresholds
need several reference chunks, so the calculator keeps its default chunker
(10 chunks of each period); making the current period one chunk would leave a
single reference chunk and no spread to set a threshold from. A feature counts
as flagged when any current chunk raises an alert.
"""

from __future__ import annotations

from typing import Any

import nannyml as nml
import pandas as pd
from _runner import main


def drift_job(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> dict[str, Any]:
    calculator = nml.UnivariateDriftCalculator(
        column_names=numeric + categorical,
        treat_as_categorical=categorical,
    )
    calculator.fit(reference)
    results = calculator.calculate(current).filter(period="analysis").to_df()
    flagged = []
    per_feature: dict[str, Any] = {}
    for name in numeric + categorical:
        method = "jensen_shannon"
        alerts = results[(name, method, "alert")]
        values = results[(name, method, "value")]
        threshold = results[(name, method, "upper_threshold")]
        per_feature[name] = {
            "method": method,
            "max_value": round(float(values.max()), 5),
            "upper_threshold": round(float(threshold.iloc[0]), 5),
            "alert_chunks": int(alerts.sum()),
            "chunks": len(alerts),
        }
        if bool(alerts.any()):
            flagged.append(name)
    return {
        "flagged": flagged,
        "per_feature": per_feature,
        "notes": "default chunker (10 chunks per period); flagged = any current chunk alerts",
    }


if __name__ == "__main__":
    main("nannyml", nml.__version__, drift_job)
