"""Data health: a stuck value is evidence only when it could not have happened by chance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from loopwatch.core.profile import ALL, Binning, NumericStats
from loopwatch.core.spec import spec_from_mapping
from loopwatch.monitoring.checks import CheckContext, Window
from loopwatch.monitoring.health import HealthCheck

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("rows", "decisive"), [(35, False), (400, True)])
def test_a_few_valued_feature_at_one_value_in_a_small_cohort_is_not_decisive(
        rows: int, decisive: bool) -> None:
    context = cast("CheckContext", SimpleNamespace(spec=spec_from_mapping(
        {"model": "m", "features": [{"name": "dis", "dtype": "numeric"}]})))
    empty = Binning(numeric={"dis": (1.0, 2.0)}, categorical={}, score=(0.5,)).empty(T, T)
    # the baseline: 90% of values are 1, 10% are 2; now every row is 1
    before = NumericStats(1000, 0, 1100.0, 1300.0, 1.0, 2.0, np.array([0, 900, 100]))
    now = NumericStats(rows, 0, float(rows), float(rows), 1.0, 1.0, np.array([0, rows, 0]))
    (found,) = HealthCheck()._stale(context, Window(T, T + timedelta(days=1)), ALL, "dis",
                                    replace(empty, numeric={"dis": now}),
                                    replace(empty, numeric={"dis": before}), 0.5)
    # the F test of normal values would call zero variance certain; the chance that every
    # row falls where 90% of them always did is 0.9 ** rows
    assert found.evidence["p_value"] == pytest.approx(0.9 ** rows)
    assert (found.evidence["p_value"] <= 1e-6) is decisive
