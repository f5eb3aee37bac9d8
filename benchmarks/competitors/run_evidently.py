"""Evidently's default data drift report; runs inside benchmarks/competitors/.venv-evidently.

``Report([DataDriftPreset()])`` with its defaults: for more than 1,000 rows,
Wasserstein distance (normed, threshold 0.1) on numeric columns and
Jensen-Shannon distance (threshold 0.1) on categorical ones. Column roles are
given through a ``DataDefinition`` (the same roles Evidently infers by itself
here) so that a categorical with 10,000 values is not taken for text. The report
is run with ``include_tests=True`` and a feature counts as flagged when its
"Value Drift" test fails.
"""

from __future__ import annotations

import re
from typing import Any

import evidently
import pandas as pd
from _runner import main
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

_TEST_NAME = re.compile(r"Value Drift for column (?P<column>.+)$")


def drift_job(
    reference: pd.DataFrame, current: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> dict[str, Any]:
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    report = Report([DataDriftPreset()], include_tests=True)
    snapshot = report.run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    summary = snapshot.dict()
    per_feature: dict[str, Any] = {}
    for metric in summary["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            per_feature[config["column"]] = {
                "method": config.get("method"),
                "value": round(float(metric["value"]), 5),
                "threshold": config.get("threshold"),
            }
    flagged = []
    for test in summary["tests"]:
        match = _TEST_NAME.match(test.get("name", ""))
        if match is None:
            continue
        drifted = test["status"] in ("FAIL", "TestStatus.FAIL")
        per_feature.setdefault(match["column"], {})["drifted"] = drifted
        if drifted:
            flagged.append(match["column"])
    return {"flagged": flagged, "per_feature": per_feature}


if __name__ == "__main__":
    main("evidently", evidently.__version__, drift_job)
