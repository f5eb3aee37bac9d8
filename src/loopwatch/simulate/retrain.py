"""Retraining the simulated fraud model from its own decision log: the spec's ``learning.train`` hook.

:func:`train` takes logged decisions (a pyarrow table with the fraud spec's
feature columns and a label column), fits the simulator's gradient-boosted model
(:func:`~loopwatch.simulate.model.train_model`) on the features it is given and
returns a function that scores a table of logged decisions. A feature left out
is held at a constant in training and scoring, so the model cannot use it.
``loopwatch ablate`` calls it through the spec (``learning: {train:
"loopwatch.simulate.retrain:train"}``); the champion/challenger tests use it to
build versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.simulate.model import train_model
from loopwatch.simulate.world import CARD_TYPES, CATEGORICAL_FEATURES, FEATURES, MERCHANT_CATEGORIES

__all__ = ["matrix", "train"]

_CODES = {"merchant_category": MERCHANT_CATEGORIES, "card_type": CARD_TYPES}


def _column(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if name in _CODES:
        codes = pc.index_in(column, value_set=pa.array(_CODES[name]))
        return np.asarray(pc.cast(codes, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def matrix(table: pa.Table, features: Sequence[str] = FEATURES) -> np.ndarray:
    """The model's input matrix of logged decisions (columns in the simulator's feature order).

    A feature not in ``features`` is the constant 0 (categories: code 0). Unknown
    categories and missing values are NaN.
    """
    columns = []
    for name in FEATURES:
        if name in features:
            columns.append(_column(table, name))
        else:
            columns.append(np.zeros(table.num_rows))
    return np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))


def train(rows: pa.Table, features: Sequence[str], label: str, *, seed: int = 0
          ) -> Callable[[pa.Table], np.ndarray]:
    """Fit the simulator's model on labelled ``rows`` using only ``features``; returns a scorer.

    Raises
    ------
    ValueError
        A feature is not one of the simulator's, or the rows hold fewer than 20 frauds.
    """
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise ValueError(f"unknown features {unknown}; the simulated model knows {list(FEATURES)}")
    kept = rows.filter(pc.is_valid(rows.column(label)))
    labels = np.asarray(kept.column(label).to_numpy(zero_copy_only=False), dtype=np.bool_)
    used = tuple(features)
    model = train_model(matrix(kept, used), labels, seed=seed,
                        categorical=[name for name in CATEGORICAL_FEATURES if name in used])

    def score(table: pa.Table) -> np.ndarray:
        return np.asarray(model.score(matrix(table, used)), dtype=np.float64)

    return score
