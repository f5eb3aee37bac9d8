"""A calibrated synthetic population, and simulated stores, for the study of label-free estimates.

**Synthetic.** The score is calibrated by construction: a latent ``z ~ N(0, 1)``
(negatives) or ``N(1.8, 1)`` (positives, prior 5%), score ``P(y = 1 | z)`` in the
1,000 uniform bins. :func:`synthetic` fits the calibration on a reference of
50,000 labelled decisions and draws windows of 5,000 decisions from the same
population, or with the latent shifted for everyone (covariate shift:
``P(y | score)`` unchanged, more risky traffic).

**The fraud simulator.** :func:`healthy_days` evaluates a healthy 90-day run
(every outcome observed; reference days 14-30, past the model's training days)
day by day; :func:`drift_days` a run with ``gradual_drift`` around its onset.
``benchmarks/label_free.py`` reports both.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import special

from loopwatch.core.profile import score_bin, score_edges
from loopwatch.core.spec import Spec
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.label_free import estimate_metrics, fit_calibration
from loopwatch.evaluation.metrics import precision, roc_auc
from loopwatch.storage.parquet_store import ParquetStore

__all__ = ["BINS", "DRIFT_METRICS", "START", "drift_days", "healthy_days", "realized", "shifted_window",
           "simulated_store", "synthetic"]

Floats = npt.NDArray[np.float64]
EDGES = score_edges(None, 0.0, 1.0)
BINS = ScoreBins.from_edges(EDGES)
START = datetime(2026, 1, 1, tzinfo=UTC)
PRIOR, SEPARATION, THRESHOLD = 0.05, 1.8, 0.5


def shifted_window(rng: np.random.Generator, n: int, shift: float) -> npt.NDArray[np.int64]:
    """A window whose arrivals' latent is shifted by ``shift``, labels drawn from the unchanged P(y | z)."""
    healthy_y = rng.random(n) < PRIOR
    z = rng.standard_normal(n) + SEPARATION * healthy_y + shift
    posterior = special.expit(SEPARATION * z - SEPARATION**2 / 2 + special.logit(PRIOR))
    y = rng.random(n) < posterior
    b = score_bin(posterior, EDGES)
    return np.bincount(y.astype(np.int64) * 1000 + b, minlength=2000).reshape(2, 1000)


def realized(counts: npt.NDArray[np.int64]) -> dict[str, float]:
    return {"roc_auc": roc_auc(counts).value,
            "precision": precision(counts, bins=BINS, threshold=THRESHOLD).value,
            "recall": float(counts[1, 500:].sum() / counts[1].sum()),
            "base_rate": float(counts[1].sum() / counts.sum())}


def synthetic(draws: int, *, seed: int = 0, shift: float = 0.0) -> dict[str, Any]:
    """Coverage and mean error of the estimates over ``draws`` windows (see the module docstring)."""
    rng = np.random.default_rng(seed)
    reference = shifted_window(rng, 50_000, 0.0)
    calibration = fit_calibration(reference, seed=seed)
    names = ("roc_auc", "precision", "recall", "base_rate")
    covered = dict.fromkeys(names, 0)
    errors: dict[str, list[float]] = {n: [] for n in names}
    moved: dict[str, list[float]] = {n: [] for n in names}
    truth_moved: dict[str, list[float]] = {n: [] for n in names}
    baseline = estimate_metrics(reference.sum(axis=0), calibration, bins=BINS, threshold=THRESHOLD)
    ref_values = realized(reference)
    for d in range(draws):
        window = shifted_window(rng, 5_000, shift)
        estimates = estimate_metrics(window.sum(axis=0), calibration, bins=BINS, threshold=THRESHOLD, seed=d)
        truth = realized(window)
        for name in names:
            covered[name] += estimates[name].covers(truth[name])
            errors[name].append(abs(estimates[name].value - truth[name]))
            moved[name].append(estimates[name].value - baseline[name].value)
            truth_moved[name].append(truth[name] - ref_values[name])
    return {"coverage": {n: covered[n] / draws for n in names},
            "mae": {n: float(np.mean(errors[n])) for n in names},
            "estimate_change": {n: float(np.mean(moved[n])) for n in names},
            "realized_change": {n: float(np.mean(truth_moved[n])) for n in names}}


# --- the fraud simulator ----------------------------------------------------------------------------------


def simulated_store(incidents: tuple[str, ...], *, seed: int = 7, per_day: int = 10_000,
                    root: Path) -> tuple[Spec, ParquetStore]:
    """A 90-day simulated run with every outcome ingested; its spec's reference is days 14-30."""
    from loopwatch.core.spec import Reference
    from loopwatch.simulate.fraud import SimulationConfig, simulate

    result = simulate(SimulationConfig(days=90, decisions_per_day=per_day, incidents=incidents, seed=seed,
                                       start=START))
    spec = result.spec.model_copy(update={"reference": Reference(start=START + timedelta(days=14),
                                                                 end=START + timedelta(days=30))})
    store = ParquetStore(root, spec=spec)
    store.ingest("decisions", result.decisions, source="simulator")
    store.ingest("outcomes", result.outcomes, source="simulator")
    return spec, store


def healthy_days(*, seed: int = 7, per_day: int = 10_000, last_day: int = 65) -> dict[str, Any]:
    """MAE and coverage of the daily label-free estimates against the realized, days 30 to ``last_day``."""
    from loopwatch.evaluation.report import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        spec, store = simulated_store((), seed=seed, per_day=per_day, root=Path(tmp) / "store")
        report = evaluate(spec, store=store, end=START + timedelta(days=last_day))
    out: dict[str, Any] = {}
    for name in ("roc_auc", "precision", "recall"):
        pairs = [(d.estimates[name], d.metrics[name]) for d in report.days]
        errors = [abs(e.value - m.value) for e, m in pairs]
        out[name] = {"mae": float(np.mean(errors)),
                     "coverage": float(np.mean([e.covers(m.value) for e, m in pairs])),
                     "days": len(pairs), "mean_realized": float(np.mean([m.value for _, m in pairs]))}
    return out


def drift_days(*, seed: int = 7, per_day: int = 10_000) -> list[dict[str, Any]]:
    """Daily estimates and realized values around the onset of ``gradual_drift`` (day 62)."""
    from loopwatch.evaluation.report import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        spec, store = simulated_store(("gradual_drift",), seed=seed, per_day=per_day,
                                      root=Path(tmp) / "store")
        report = evaluate(spec, store=store, start=START + timedelta(days=55),
                          end=START + timedelta(days=68))
    return [{"day": (d.start - START).days, **{f"{k}_estimate": d.estimates[k] for k in DRIFT_METRICS},
             **{f"{k}_realized": d.metrics[k] for k in DRIFT_METRICS}} for d in report.days]


#: The metrics :func:`drift_days` follows.
DRIFT_METRICS: Final = ("false_positive_rate", "recall", "precision")
