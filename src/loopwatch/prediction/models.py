"""A model as the loop calls it: any object that scores a batch, and scoring that isolates failures.

:class:`Model` wraps a predictor duck-typed on a batch: an object with
``predict_proba`` (scikit-learn's interface, which LightGBM's and XGBoost's
scikit-learn wrappers also implement; the positive class's column is taken; tested
with scikit-learn) or a plain callable returning one score per row (an ONNX
session wrapped in a function, say). Rows are encoded into the predictor's input
by ``encode`` (default: a float matrix of the features in order, categories mapped
to their index).

:func:`score_rows` calls the model once for a whole batch. When the call raises,
the batch is split in two and each half is scored again (bisection), within a
budget of calls, so that good rows get their scores and a poisoned row gets its
own error; a score that is not a finite number in [0, 1] fails its row alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MatrixEncoder", "Model", "Scored", "score_rows"]

Floats = npt.NDArray[np.float64]
Rows = Sequence[Mapping[str, Any]]


class MatrixEncoder:
    """Rows to a float matrix: numbers and booleans as floats, categories as their index.

    A missing value, and a category outside ``categories``, is NaN.

    Examples
    --------
    >>> encode = MatrixEncoder(["amount", "card"], categories={"card": ["credit", "debit"]})
    >>> encode([{"amount": 12.5, "card": "debit"}, {"amount": None, "card": "gift"}]).tolist()
    [[12.5, 1.0], [nan, nan]]
    """

    def __init__(self, names: Sequence[str], *,
                 categories: Mapping[str, Sequence[str]] | None = None) -> None:
        self.names = tuple(names)
        self.categories = {name: {value: float(i) for i, value in enumerate(values)}
                           for name, values in (categories or {}).items()}
        unknown = sorted(set(self.categories) - set(self.names))
        if unknown:
            raise ValueError(f"categories name features the model does not take: {unknown}")

    def __call__(self, rows: Rows) -> Floats:
        out = np.full((len(rows), len(self.names)), np.nan)
        for j, name in enumerate(self.names):
            codes = self.categories.get(name)
            for i, row in enumerate(rows):
                value = row.get(name)
                if value is None:
                    continue
                if codes is not None:
                    out[i, j] = codes.get(value, np.nan)
                elif isinstance(value, bool | int | float):
                    out[i, j] = value
                else:
                    raise TypeError(f"feature {name!r}: expected a number; got {value!r}")
        return out


@dataclass(frozen=True, kw_only=True)
class Model:
    """A predictor the loop can call on a batch of rows, with its version.

    Parameters
    ----------
    predictor
        An object with ``predict_proba(X)`` (the ``positive`` column is the score),
        or a callable ``f(X)`` returning one score per row.
    version
        Logged with each decision it scores (``model_version``).
    features
        Input features in the order the predictor expects.
    categories
        For the default encoder: the categories of each categorical feature, in
        the order of their codes.
    encode
        ``encode(rows) -> X``; replaces the default float-matrix encoder (e.g. to
        build a pandas DataFrame or ONNX input).
    positive
        Column of ``predict_proba`` holding the positive class.

    Examples
    --------
    >>> model = Model(predictor=lambda X: X[:, 0] / 100, version="rule-1", features=["amount"])
    >>> model.score([{"amount": 12.0}, {"amount": 50.0}]).tolist()
    [0.12, 0.5]
    """

    predictor: Any
    version: str
    features: Sequence[str]
    categories: Mapping[str, Sequence[str]] | None = None
    encode: Callable[[Rows], Any] | None = None
    positive: int = 1
    _encode: Callable[[Rows], Any] = field(init=False, repr=False, compare=False)
    _call: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not self.version:
            raise ValueError(f"version must be a non-empty string; got {self.version!r}")
        if not self.features:
            raise ValueError(f"model {self.version!r}: features must name its inputs")
        object.__setattr__(self, "features", tuple(self.features))
        proba = getattr(self.predictor, "predict_proba", None)
        if callable(proba):
            column = self.positive

            def call(x: Any) -> Any:
                return np.asarray(proba(x))[:, column]
        elif callable(self.predictor):
            call = self.predictor
        else:
            raise ValueError(f"model {self.version!r}: predictor must have predict_proba or be "
                             f"callable; got {type(self.predictor).__name__}")
        encode = self.encode or MatrixEncoder(self.features, categories=self.categories)
        object.__setattr__(self, "_encode", encode)
        object.__setattr__(self, "_call", call)

    def score(self, rows: Rows) -> Floats:
        """One call of the predictor on ``rows``; raises what the predictor raises.

        Raises
        ------
        ValueError
            The predictor returned the wrong number of scores.
        """
        raw = np.asarray(self._call(self._encode(rows)), dtype=np.float64).reshape(-1)
        if raw.shape[0] != len(rows):
            raise ValueError(f"model {self.version!r} returned {raw.shape[0]} scores for "
                             f"{len(rows)} rows")
        return raw


@dataclass
class Scored:
    """Scores of a batch (NaN where a row failed), each failed row's error, and what it cost."""

    scores: Floats
    errors: dict[int, str]
    calls: int
    wall_s: float
    cpu_s: float


def _bisection_budget(n: int) -> int:
    # isolating one poisoned row of n takes 1 + 2·log2(n) calls; allow for about two
    return 1 + 4 * max(1, math.ceil(math.log2(max(n, 2))))


def score_rows(model: Model, rows: Rows, *, max_calls: int | None = None) -> Scored:
    """Score ``rows`` in one call, bisecting on failure within ``max_calls`` calls.

    Rows still unresolved when the budget runs out fail with the batch's error.

    Examples
    --------
    >>> def fragile(X):
    ...     if (X[:, 0] < 0).any():
    ...         raise ValueError("negative amount")
    ...     return X[:, 0] / 100
    >>> model = Model(predictor=fragile, version="v1", features=["amount"])
    >>> scored = score_rows(model, [{"amount": a} for a in (10, 20, -1, 40)])
    >>> scored.scores.tolist()[:2], scored.errors
    ([0.1, 0.2], {2: 'ValueError: negative amount'})
    """
    n = len(rows)
    scores = np.full(n, np.nan)
    errors: dict[int, str] = {}
    budget = max_calls if max_calls is not None else _bisection_budget(n)
    calls = 0
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    pending: list[tuple[int, int]] = [(0, n)] if n else []
    while pending:
        start, stop = pending.pop(0)
        if calls >= budget:
            for i in range(start, stop):
                errors.setdefault(i, "unisolated: the bisection budget ran out")
            continue
        calls += 1
        try:
            out = model.score(rows[start:stop])
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:300]
            if stop - start == 1:
                errors[start] = message
            else:
                middle = (start + stop) // 2
                pending += [(start, middle), (middle, stop)]
                for i in range(start, stop):  # replaced by the halves' own outcome
                    errors[i] = message
            continue
        for offset, value in enumerate(out.tolist()):
            i = start + offset
            if math.isfinite(value) and 0.0 <= value <= 1.0:
                scores[i] = value
                errors.pop(i, None)
            else:
                errors[i] = f"invalid score {value!r}: expected a number in [0, 1]"
    return Scored(scores, errors, calls, time.perf_counter() - wall0, time.thread_time() - cpu0)
