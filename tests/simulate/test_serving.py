"""The simulated fraud model as a served loop: it decides, ranks fraud, and obeys its safety rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from loopwatch.simulate.serving import fraud_loop, fraud_serving


@pytest.mark.slow
def test_the_served_fraud_model_ranks_fraud_and_reviews_large_amounts() -> None:
    serving = fraud_serving(days=24, per_day=2_000, train_days=14)
    loop = fraud_loop(serving)
    rows = [*serving.rows[:3_999], {**serving.rows[0], "amount": 12_000.0}]
    decisions = loop.decide_now(rows)
    assert {d.route for d in decisions} == {"primary"} and all(d.score is not None for d in decisions)
    labels = serving.labels[:4_000]
    assert labels.any() and roc_auc_score(labels, [d.score for d in decisions]) > 0.8
    large = [d for d, r in zip(decisions, rows, strict=True) if (r["amount"] or 0) > 5_000]
    assert large and all(d.action == "review" and d.rule == "large_amount" for d in large)
    cheap = serving.cheap.score(rows)
    assert cheap.shape == (4_000,) and np.all((cheap >= 0) & (cheap <= 1))
