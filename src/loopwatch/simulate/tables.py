"""The stored tables of a simulation: the decision log and the outcomes, as Arrow.

Builds the columns the serving system logs (score, action, latency, cost, error)
and converts the frame's arrays to exactly the stored schemas of the spec
(:func:`~loopwatch.core.schema.decision_schema`), so that ingesting them rejects
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.schema import decision_schema, outcome_schema
from loopwatch.core.spec import Spec
from loopwatch.simulate import world
from loopwatch.simulate.model import (
    BLOCK_THRESHOLD,
    REVIEW_THRESHOLD,
    FraudModel,
    feature_matrix,
)
from loopwatch.simulate.world import (
    BOOLEAN_FEATURES,
    CATEGORICAL_FEATURES,
    CUSTOMER_TYPES,
    DEVICES,
    REGIONS,
    SOURCES,
    BoolArray,
    FloatArray,
    Frame,
    IntArray,
)

__all__ = ["decision_ids", "decisions_table", "outcomes_table"]


def _serve(frame: Frame, model: FraudModel, rng: np.random.Generator
           ) -> tuple[FloatArray, FloatArray, IntArray]:
    """Score the served features; latency (ms) and error codes (-1: none) per decision."""
    matrix = feature_matrix(frame.served)
    if frame.fallback.size == frame.n:
        matrix[frame.fallback, :] = np.nan  # the pipeline's fallback: every input missing
    score: FloatArray = np.round(model.score(matrix), 6)
    load = world.load(frame)
    latency: FloatArray = np.exp(np.log(25.0 * (1.0 + 0.9 * load))
                                 + 0.35 * rng.standard_normal(frame.n))
    latency += np.where(frame.timed_out, rng.uniform(150.0, 400.0, frame.n), 0.0)
    error: IntArray = np.where(rng.random(frame.n) < 0.0008, rng.integers(0, 3, frame.n), -1)
    error = np.where(frame.timed_out, 3, error).astype(np.int64)
    return score, np.round(latency, 2).astype(np.float64), error


_ERRORS = ("timeout", "feature_store_unavailable", "rate_limited", "partial_features")


def _strings(codes: IntArray | FloatArray, categories: Sequence[str]) -> pa.Array[Any]:
    missing = np.isnan(codes) if codes.dtype.kind == "f" else codes < 0
    indices = np.where(missing, 0, codes).astype(np.int32)
    return pa.DictionaryArray.from_arrays(indices, pa.array(categories, pa.string()),
                                          mask=missing).dictionary_decode()


def _feature_array(name: str, values: FloatArray, frame: Frame) -> pa.Array[Any]:
    if name in CATEGORICAL_FEATURES:
        return _strings(values, frame.categories[name])
    if name in BOOLEAN_FEATURES:
        flags: pa.Array[Any] = pa.array(values == 1.0, mask=np.isnan(values))
        return flags
    return pa.array(values, pa.float64(), from_pandas=True)


def decision_ids(seed: int, n: int) -> pa.Array[Any]:
    numbers = pc.utf8_lpad(pa.array(np.arange(n, dtype=np.int64)).cast(pa.string()),
                           width=9, padding="0")
    return pc.utf8_replace_slice(numbers, start=0, stop=0, replacement=f"dec-{seed}-")


def _times(us: IntArray) -> pa.Array[Any]:
    return pa.array(us, pa.timestamp("us", tz="UTC"))


def decisions_table(frame: Frame, spec: Spec, model: FraudModel, ids: pa.Array[Any], *,
                    rng: np.random.Generator) -> pa.Table:
    """The decision log of ``frame`` in the stored schema of ``spec``, ``model`` first."""
    score, latency, error = _serve(frame, model, rng)
    action = np.where(score >= BLOCK_THRESHOLD, 2, np.where(score >= REVIEW_THRESHOLD, 1, 0))
    n = frame.n
    columns: dict[str, pa.Array[Any]] = {
        "model": pa.repeat(spec.model, n).cast(pa.string()),
        "decision_id": ids,
        "timestamp": _times(frame.ts_us),
        "model_version": pa.repeat(model.version, n).cast(pa.string()),
        **{name: _feature_array(name, values, frame) for name, values in frame.served.items()},
        "region": _strings(frame.region, REGIONS),
        "device": _strings(frame.device, DEVICES),
        "customer_type": _strings(frame.customer_type, CUSTOMER_TYPES),
        "score": pa.array(score),
        "action": _strings(action, ("approve", "review", "block")),
        "threshold": pa.repeat(REVIEW_THRESHOLD, n).cast(pa.float64()),
        "latency_ms": pa.array(latency),
        "cost": pa.array(np.round(0.0002 + 0.000004 * latency, 7)),
        "error": _strings(error, _ERRORS),
        "source": _strings(frame.source, SOURCES),
    }
    schema = decision_schema(spec).arrow
    return pa.table([columns[f.name] for f in schema], schema=schema)


def outcomes_table(frame: Frame, spec: Spec, ids: pa.Array[Any], *, end_us: int) -> pa.Table:
    """The outcomes observed before ``end_us``, in observation order."""
    kept: BoolArray = frame.arrives & (frame.observed_us < end_us)
    rows = np.flatnonzero(kept)
    rows = rows[np.argsort(frame.observed_us[rows], kind="stable")]
    schema = outcome_schema(spec).arrow
    columns = {
        "model": pa.repeat(spec.model, rows.size).cast(pa.string()),
        "decision_id": ids.take(rows),
        "observed_at": _times(frame.observed_us[rows]),
        "label": pa.array(frame.label[rows]),
        "value": pa.array(frame.features["amount"][rows]),
    }
    return pa.table([columns[f.name] for f in schema], schema=schema)
