"""The simulated fraud model and its serving pipeline.

A scikit-learn :class:`~sklearn.ensemble.HistGradientBoostingClassifier` is
trained on a sample of the start of the reference period and scores every
decision from the features the serving pipeline sees.

The pipeline validates categorical values against the categories the model was
trained on. A decision with an unknown category is mapped to the *unknown*
feature vector (every input missing), which the model scores near zero: a
silent failure that the ``dropped_category`` incident exposes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

# threadpoolctl ships with scikit-learn but without type information
from threadpoolctl import threadpool_limits

from loopwatch.simulate.world import (
    CATEGORICAL_FEATURES,
    FEATURES,
    BoolArray,
    FloatArray,
    IntArray,
)

__all__ = [
    "BLOCK_THRESHOLD",
    "MODEL_VERSION",
    "REVIEW_THRESHOLD",
    "FraudModel",
    "feature_matrix",
    "train_model",
]

MODEL_VERSION = "fraud-hgb-3.2.0"
#: Score from which a decision is sent to manual review (the spec's ``threshold``).
REVIEW_THRESHOLD = 0.5
#: Score from which a transaction is blocked outright.
BLOCK_THRESHOLD = 0.8


def feature_matrix(features: Mapping[str, FloatArray], rows: IntArray | None = None) -> FloatArray:
    """The model's input matrix (columns in :data:`FEATURES` order), optionally of some rows."""
    columns = [features[name] if rows is None else features[name][rows] for name in FEATURES]
    return np.column_stack(columns)


@dataclass(frozen=True)
class FraudModel:
    """A fitted fraud classifier and the categories its serving schema accepts."""

    estimator: HistGradientBoostingClassifier
    known_categories: Mapping[str, FloatArray]
    version: str = MODEL_VERSION
    #: the matrix's columns (a retrained model may use fewer, or other, features)
    names: Sequence[str] = FEATURES

    def score(self, matrix: FloatArray) -> FloatArray:
        """Probability of fraud per row; rows with an unknown category get the unknown vector."""
        unknown = np.zeros(matrix.shape[0], dtype=np.bool_)
        for name in CATEGORICAL_FEATURES:
            if name not in self.known_categories:  # not an input of this model, or not categorical
                continue
            column = matrix[:, list(self.names).index(name)]
            unknown |= ~np.isnan(column) & ~np.isin(column, self.known_categories[name])
        if unknown.any():
            matrix = matrix.copy()
            matrix[unknown, :] = np.nan
        out: FloatArray = self.estimator.predict_proba(matrix)[:, 1]
        return out

    def importance(self, matrix: FloatArray, labels: BoolArray, *,
                   rng: np.random.Generator) -> dict[str, float] | None:
        """Permutation importance: the AUC lost when a feature is shuffled, normalised to 1.

        ``None`` when ``labels`` hold a single class (too little data to tell).
        """
        if labels.all() or not labels.any():
            return None
        k = matrix.shape[1]
        # one scoring call over every shuffled copy: per-call overhead dominates small batches
        stacked = np.tile(matrix, (k + 1, 1))
        n = matrix.shape[0]
        for j in range(k):
            stacked[(j + 1) * n:(j + 2) * n, j] = rng.permutation(matrix[:, j])
        with threadpool_limits(limits=1, user_api="openmp"):
            scores = self.score(stacked).reshape(k + 1, n)
        base = float(roc_auc_score(labels, scores[0]))
        drops = [max(base - float(roc_auc_score(labels, scores[j + 1])), 0.0) for j in range(k)]
        total = sum(drops) or 1.0
        return {name: round(d / total, 4) for name, d in zip(FEATURES, drops, strict=True)}


def train_model(matrix: FloatArray, labels: BoolArray, *, seed: int,
                categorical: Sequence[str] = CATEGORICAL_FEATURES,
                names: Sequence[str] = FEATURES) -> FraudModel:
    """Fit the fraud model on ``matrix`` (columns ``names``, by default :data:`FEATURES` in order).

    Raises
    ------
    ValueError
        ``labels`` hold fewer than 20 frauds, too few to train on.
    """
    positives = int(labels.sum())
    if positives < 20:
        raise ValueError(
            f"the training sample holds {positives} frauds; at least 20 are needed "
            "(increase days or decisions_per_day)")
    names = tuple(names)
    mask = np.array([name in categorical for name in names])
    estimator = HistGradientBoostingClassifier(
        max_iter=60, learning_rate=0.15, max_leaf_nodes=15, min_samples_leaf=40,
        l2_regularization=1.0, categorical_features=mask, early_stopping=False,
        random_state=seed,
    )
    # OpenMP threads on a small fit cost more than they save, badly so on a busy machine
    with threadpool_limits(limits=1, user_api="openmp"):
        estimator.fit(matrix, labels)
    known = {name: np.unique(matrix[:, names.index(name)][~np.isnan(
        matrix[:, names.index(name)])]) for name in categorical if name in names}
    return FraudModel(estimator=estimator, known_categories=known, names=names)
