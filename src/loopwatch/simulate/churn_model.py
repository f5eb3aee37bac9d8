"""The simulated churn model: a logistic regression on transformed features.

A different kind of model from the fraud simulator's gradient-boosted trees,
so that what a check sees of a model's scores does not depend on one family:
counts and heavy tails enter as ``log1p``, missing values as the training
median plus a missing indicator, categories one-hot over the values seen in
training. A value the model never saw gets no weight at all: a new
acquisition channel is scored like an average one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from loopwatch.simulate.churn_world import BOOLEAN_FEATURES, CATEGORICAL_FEATURES, NUMERIC_FEATURES
from loopwatch.simulate.world import BoolArray, FloatArray

__all__ = ["MODEL_VERSION", "ChurnModel", "train_churn_model"]

MODEL_VERSION = "churn-logit-1.4.0"


@dataclass(frozen=True)
class ChurnModel:
    """A fitted churn classifier and the transformation of its inputs."""

    estimator: LogisticRegression
    medians: Mapping[str, float]
    known_categories: Mapping[str, FloatArray]
    version: str = MODEL_VERSION

    def design(self, features: Mapping[str, FloatArray]) -> FloatArray:
        """The model's input matrix from feature arrays (categories as float codes)."""
        columns: list[FloatArray] = []
        for name in NUMERIC_FEATURES:
            values = features[name]
            missing = np.isnan(values)
            filled = np.where(missing, self.medians[name], values)
            columns += [np.log1p(np.clip(filled, 0.0, None)), missing.astype(float)]
        for name in BOOLEAN_FEATURES:
            values = features[name]
            columns += [np.nan_to_num(values, nan=0.0), np.isnan(values).astype(float)]
        for name in CATEGORICAL_FEATURES:
            values = features[name]
            columns += [(values == code).astype(float) for code in self.known_categories[name]]
        return np.column_stack(columns)

    def score(self, features: Mapping[str, FloatArray]) -> FloatArray:
        """Probability of cancelling, per row."""
        out: FloatArray = self.estimator.predict_proba(self.design(features))[:, 1]
        return out


def train_churn_model(features: Mapping[str, FloatArray], labels: BoolArray) -> ChurnModel:
    """Fit the churn model on feature arrays and labels.

    Raises
    ------
    ValueError
        ``labels`` hold fewer than 20 cancellations, too few to train on.
    """
    positives = int(labels.sum())
    if positives < 20:
        raise ValueError(f"the training sample holds {positives} cancellations; at least 20 are "
                         "needed (increase days or decisions_per_day)")
    medians = {name: float(np.nanmedian(features[name])) for name in NUMERIC_FEATURES}
    known = {name: np.unique(features[name][~np.isnan(features[name])])
             for name in CATEGORICAL_FEATURES}
    unfitted = ChurnModel(estimator=LogisticRegression(), medians=medians, known_categories=known)
    estimator = LogisticRegression(C=0.5, max_iter=1_000)
    estimator.fit(unfitted.design(features), labels)
    return ChurnModel(estimator=estimator, medians=medians, known_categories=known)
