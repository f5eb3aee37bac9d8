"""The simulated fraud model as a served decision loop: training data, a cheap model, the loop.

:func:`fraud_serving` simulates a healthy run, trains the simulator's
scikit-learn gradient-boosting model (:func:`~loopwatch.simulate.model.train_model`)
and a cheap logistic regression on five numeric features on its first weeks, and
returns them with the spec (plus a ``serving`` block) and request inputs drawn from
the run. :func:`fraud_loop` builds a :class:`~loopwatch.prediction.loop.DecisionLoop`
from them. Benchmarks and demos use it; tests use smaller runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from loopwatch.core.serving import CostModel, Serving
from loopwatch.core.spec import Spec
from loopwatch.prediction.batcher import Batching
from loopwatch.prediction.cascade import Cascade
from loopwatch.prediction.loop import DecisionLoop
from loopwatch.prediction.models import Model
from loopwatch.prediction.steps import Actions, SafetyRule
from loopwatch.simulate.fraud import SimulationConfig, simulate
from loopwatch.simulate.model import BLOCK_THRESHOLD, REVIEW_THRESHOLD, train_model
from loopwatch.simulate.world import (
    BOOLEAN_FEATURES,
    CARD_TYPES,
    CATEGORICAL_FEATURES,
    FEATURES,
    MERCHANT_CATEGORIES,
)

__all__ = ["CHEAP_FEATURES", "FraudServing", "fraud_loop", "fraud_serving", "matrix_of"]

CATEGORIES = {"merchant_category": MERCHANT_CATEGORIES, "card_type": CARD_TYPES}
CHEAP_FEATURES = ("amount", "ip_risk_score", "account_age_days", "failed_logins_7d", "velocity_ratio")
ACTIONS = Actions(thresholds={"block": BLOCK_THRESHOLD, "review": REVIEW_THRESHOLD})


@dataclass(frozen=True)
class FraudServing:
    """A trained fraud model, a cheap model, the spec, and labelled rows to serve or evaluate."""

    spec: Spec
    full: Model
    cheap: Model
    rows: list[dict[str, Any]]  # request inputs (features, cohorts, source), after the training days
    labels: np.ndarray[Any, np.dtype[np.bool_]]  # their labels (rows whose label arrived)


def matrix_of(table: pa.Table, names: tuple[str, ...] = FEATURES
              ) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The model's float matrix of a decision table (categories as codes, booleans as 0/1)."""
    columns = []
    for name in names:
        column = table.column(name)
        if name in CATEGORICAL_FEATURES:
            codes = pc.index_in(column, value_set=pa.array(CATEGORIES[name]))
            columns.append(codes.to_numpy(zero_copy_only=False).astype(np.float64))
        elif name in BOOLEAN_FEATURES:
            columns.append(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))
        else:
            columns.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
    return np.column_stack(columns)


def fraud_serving(*, days: int = 40, per_day: int = 5_000, train_days: int = 14,
                  seed: int = 7) -> FraudServing:
    """Simulate a healthy run, train both models on its first ``train_days``, keep the rest to serve."""
    result = simulate(SimulationConfig(days=days, decisions_per_day=per_day, incidents=(), seed=seed))
    decisions = result.decisions
    labels = dict(zip(result.outcomes.column("decision_id").to_pylist(),
                      result.outcomes.column("label").to_pylist(), strict=True))
    ids = decisions.column("decision_id").to_pylist()
    known = np.array([i in labels for i in ids])
    y = np.array([bool(labels.get(i, False)) for i in ids])
    start = datetime.fromisoformat(result.ground_truth["start"])
    cut = pa.scalar(start + timedelta(days=train_days), pa.timestamp("us", tz="UTC"))
    early = pc.less(decisions.column("timestamp"), cut).to_numpy(zero_copy_only=False)
    train = early & known
    x = matrix_of(decisions)
    full = train_model(x[train], y[train], seed=seed)
    cheap = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(max_iter=500))
    with threadpool_limits(limits=1):
        cheap.fit(x[train][:, [FEATURES.index(n) for n in CHEAP_FEATURES]], y[train])
    later = np.flatnonzero(~early & known)
    keep = [*FEATURES, "region", "device", "customer_type", "source"]
    rows = decisions.select(keep).take(pa.array(later)).to_pylist()
    spec = result.spec.model_copy(update={"serving": Serving(cost=CostModel(cpu_second=4.8e-5))})
    return FraudServing(
        spec=spec,
        full=Model(predictor=full.estimator, version=full.version, features=FEATURES, categories=CATEGORIES),
        cheap=Model(predictor=cheap, version="fraud-logreg-1.0", features=CHEAP_FEATURES),
        rows=rows, labels=y[later])


def fraud_loop(serving: FraudServing, *, cascade: Cascade | None = None,
               batching: Batching | None = None) -> DecisionLoop:
    """The simulated fraud model's decision loop: amounts over 5,000 always go to review."""
    rule = SafetyRule(name="large_amount", when=lambda row: (row.get("amount") or 0) > 5_000,
                      action="review")
    return DecisionLoop(serving.spec, model=serving.full, baseline=serving.cheap, actions=ACTIONS,
                        rules=[rule], cascade=cascade, batching=batching)
