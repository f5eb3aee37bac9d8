"""95% intervals cover the population value about 95% of the time, in a large and a small cohort.

The simulation is ``benchmarks/eval_coverage.py`` (2,000 draws there; 300 here).
With 300 draws the coverage estimate of a correct interval has a binomial
standard deviation of 1.26 points; the tolerance is 3.5 of them.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
from scipy import stats

DRAWS = 300
TOLERANCE = 3.5 * math.sqrt(0.95 * 0.05 / DRAWS)
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "eval_coverage.py"


@pytest.fixture(scope="module")
def simulation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_coverage", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_coverage"] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["eval_coverage"]
    return module


def test_the_simulated_population_values_match_their_closed_forms(simulation: ModuleType) -> None:
    scenario = simulation.Scenario(n=1)
    truth = simulation.population(scenario)
    # binning moves the AUC by ties within a bin only
    assert truth["roc_auc"] == pytest.approx(stats.norm.cdf(scenario.separation / math.sqrt(2)), abs=1e-3)
    cut = (math.log(0.5 / 0.5) - scenario.intercept) / scenario.slope  # score 0.5 on the latent scale
    tpr, fpr = stats.norm.sf(cut - scenario.separation), stats.norm.sf(cut)
    assert truth["recall"] == pytest.approx(tpr, abs=1e-9)
    assert truth["false_positive_rate"] == pytest.approx(fpr, abs=1e-9)
    assert simulation.population(simulation.calibrated(1))["expected_calibration_error"] < 1e-4


@pytest.mark.parametrize("n", [5000, 200])
def test_auc_precision_recall_and_value_intervals_cover_95_percent(simulation: ModuleType, n: int) -> None:
    names = ("roc_auc", "precision", "recall", "value")
    results = simulation.coverage(simulation.Scenario(n=n), draws=DRAWS, seed=n, names=names)
    for name in names:
        result = results[name]
        assert result.defined >= DRAWS - 3, f"{name}: undefined in {DRAWS - result.defined} draws"
        assert abs(result.rate - 0.95) <= TOLERANCE, f"{name} covered {result.rate:.3f} at n={n}"


@pytest.mark.parametrize("shift", [0.0, None])
def test_ece_interval_covers_at_least_95_percent_calibrated_or_not(simulation: ModuleType,
                                                                    shift: float | None) -> None:
    # conservative by construction (the lower bound removes the plug-in's upward bias), so one-sided
    scenario = simulation.Scenario(n=200) if shift is None else simulation.calibrated(200, shift=shift)
    result = simulation.coverage(scenario, draws=DRAWS, seed=7, names=("expected_calibration_error",))
    assert result["expected_calibration_error"].rate >= 0.95 - TOLERANCE
