"""Retraining the simulated fraud model from its own decision log: the spec's ``learning.train`` hook.

:func:`train` takes logged decisions (a pyarrow table with the fraud spec's
feature columns and a label column), fits the simulator's gradient-boosted model
(:func:`~loopwatch.simulate.model.train_model`) on the features it is given and
returns a function that scores a table of logged decisions. Features other than
the simulator's own (a column added to the log) are read as numbers.
``loopwatch ablate`` calls it through the spec (``learning: {train:
"loopwatch.simulate.retrain:train"}``) with every feature but the ablated ones;
the champion/challenger tests use it to build versions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.simulate.model import train_model
from loopwatch.simulate.world import CARD_TYPES, CATEGORICAL_FEATURES, MERCHANT_CATEGORIES

__all__ = ["TRAIN_ROWS", "matrix", "train"]

#: At most this many labelled rows are trained on (a seeded sample), as the simulator's own model is.
TRAIN_ROWS = 50_000

_CODES = {"merchant_category": MERCHANT_CATEGORIES, "card_type": CARD_TYPES}


def _column(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if name in _CODES:
        codes = pc.index_in(column, value_set=pa.array(_CODES[name]))
        return np.asarray(pc.cast(codes, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.asarray(pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy(zero_copy_only=False),
                      dtype=np.float64)


def matrix(table: pa.Table, features: Sequence[str]) -> np.ndarray:
    """The input matrix of logged decisions, one column per feature in ``features`` order.

    Categories are coded as the simulator codes them; unknown ones and missing values are NaN.
    """
    return np.column_stack([_column(table, name) for name in features])


def train(rows: pa.Table, features: Sequence[str], label: str, *, seed: int = 0
          ) -> Callable[[pa.Table], np.ndarray]:
    """Fit the simulator's model on labelled ``rows`` using only ``features``; returns a scorer.

    At most :data:`TRAIN_ROWS` of the rows are used, a sample drawn with ``seed``.

    Raises
    ------
    ValueError
        A feature is not a column of ``rows``, or the rows hold fewer than 20 frauds.
    """
    used = tuple(features)
    missing = [f for f in used if f not in rows.column_names]
    if missing:
        raise ValueError(f"features {missing} are not columns of the training rows")
    if not used:
        raise ValueError("no features left to train on")
    kept = rows.filter(pc.is_valid(rows.column(label)))
    if kept.num_rows > TRAIN_ROWS:
        sample = np.sort(np.random.default_rng(seed).choice(kept.num_rows, TRAIN_ROWS, replace=False))
        kept = kept.take(pa.array(sample))
    labels = np.asarray(kept.column(label).to_numpy(zero_copy_only=False), dtype=np.bool_)
    model = train_model(matrix(kept, used), labels, seed=seed, names=used,
                        categorical=[name for name in CATEGORICAL_FEATURES if name in used])

    def score(table: pa.Table) -> np.ndarray:
        return np.asarray(model.score(matrix(table, used)), dtype=np.float64)

    return score
