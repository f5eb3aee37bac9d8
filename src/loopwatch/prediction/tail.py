"""Tail analysis of the prediction loop from its decision log: where the slowest decisions spend time.

For the slowest share of decisions (5% by default) :func:`analyse_tail` reports
which steps (each feature, the queue, the model, post-processing) take the time,
against the other decisions; which computed features are expensive but rarely
change the decision (measured by re-scoring a sample of logged decisions with the
feature at its fallback, when the loop's code is at hand); and whether batching
would help (the batch sizes the log shows, and the model's time per row at batch
size 1 against a full batch, measured on logged rows).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from loopwatch.core.spec import Spec
from loopwatch.prediction.loop import DecisionLoop

__all__ = ["BatchingAdvice", "FeatureCost", "StepTime", "TailReport", "analyse_tail"]


@dataclass(frozen=True)
class StepTime:
    """Mean milliseconds of one step in the slowest decisions and in the others."""

    step: str
    tail_ms: float
    body_ms: float
    tail_share: float  # of the tail's summed step time

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "tail_ms": self.tail_ms, "body_ms": self.body_ms,
                "tail_share": self.tail_share}


@dataclass(frozen=True)
class FeatureCost:
    """A computed feature's time, and how often serving its fallback would change the decision."""

    feature: str
    mean_ms: float
    time_share: float  # of all computed features' time
    flip_rate: float | None  # None without the loop's code
    sampled: int

    @property
    def rarely_decisive(self) -> bool:
        """Expensive (≥ 10% of feature time) but changes under 0.5% of decisions."""
        return self.flip_rate is not None and self.time_share >= 0.1 and self.flip_rate < 0.005

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "mean_ms": self.mean_ms, "time_share": self.time_share,
                "flip_rate": self.flip_rate, "sampled": self.sampled,
                "rarely_decisive": self.rarely_decisive}


@dataclass(frozen=True)
class BatchingAdvice:
    """Batch sizes seen, and the model's time per row alone and in a full batch."""

    median_batch_rows: float | None
    single_share: float | None  # decisions scored alone
    ms_per_row_single: float | None
    ms_per_row_batched: float | None
    batch_rows: int

    @property
    def would_help(self) -> bool | None:
        """Batching would help: most decisions are scored alone and a full batch is ≥ 2× cheaper a row."""
        if self.single_share is None or self.ms_per_row_single is None or not self.ms_per_row_batched:
            return None
        return self.single_share >= 0.5 and self.ms_per_row_single >= 2 * self.ms_per_row_batched

    def to_dict(self) -> dict[str, Any]:
        return {"median_batch_rows": self.median_batch_rows, "single_share": self.single_share,
                "ms_per_row_single": self.ms_per_row_single,
                "ms_per_row_batched": self.ms_per_row_batched, "batch_rows": self.batch_rows,
                "would_help": self.would_help}


@dataclass(frozen=True)
class TailReport:
    decisions: int
    tail_share: float
    latency_cut_ms: float | None
    tail_decisions: int
    steps: tuple[StepTime, ...]
    features: tuple[FeatureCost, ...]
    batching: BatchingAdvice

    def to_dict(self) -> dict[str, Any]:
        return {"decisions": self.decisions, "tail_share": self.tail_share,
                "latency_cut_ms": self.latency_cut_ms, "tail_decisions": self.tail_decisions,
                "steps": [s.to_dict() for s in self.steps],
                "features": [f.to_dict() for f in self.features], "batching": self.batching.to_dict()}


def _steps(column: Sequence[str | None]) -> list[dict[str, float]]:
    out = []
    for text in column:
        try:
            parsed = json.loads(text) if text else {}
        except json.JSONDecodeError:
            parsed = {}
        out.append(parsed if isinstance(parsed, dict) else {})
    return out


def _flip_rates(loop: DecisionLoop, rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, float]:
    model, actions = loop.model, loop.actions
    base = [actions.decide(float(s))[0] for s in model.score(rows)] if rows else []
    out = {}
    for name in names:
        fallback = loop.spec.feature(name).fallback
        ablated = [{**row, name: fallback} for row in rows]
        scored = model.score(ablated)
        flips = sum(a != actions.decide(float(s))[0] for a, s in zip(base, scored, strict=True))
        out[name] = flips / len(rows) if rows else math.nan
    return out


def _per_row_ms(loop: DecisionLoop, rows: list[dict[str, Any]], size: int) -> float:
    chunks = [rows[i:i + size] for i in range(0, min(len(rows), max(size, 64) * 4), size)]
    start = time.perf_counter()
    done = 0
    for chunk in chunks:
        loop.model.score(chunk)
        done += len(chunk)
    return (time.perf_counter() - start) * 1e3 / max(done, 1)


def analyse_tail(decisions: pa.Table, spec: Spec, *, loop: DecisionLoop | None = None,
                 tail: float = 0.05, sample: int = 5_000, seed: int = 0) -> TailReport:
    """Where the slowest ``tail`` of ``decisions`` (a decision log, Arrow) spends its time.

    Raises
    ------
    ValueError
        The log has no latency column, or no serving columns (``steps``) to analyse.
    """
    if not 0 < tail < 1:
        raise ValueError(f"tail must be in (0, 1); got {tail!r}")
    c = spec.columns
    names = set(decisions.column_names)
    if not c.latency or c.latency not in names:
        raise ValueError("the decision log has no latency column (columns.latency)")
    if spec.serving is None or spec.serving.columns.steps not in names:
        raise ValueError("the decision log has no serving columns (the spec has no serving block, "
                         "or nothing was logged by a DecisionLoop)")
    s = spec.serving.columns
    latency = np.asarray(decisions.column(c.latency).to_numpy(zero_copy_only=False), dtype=np.float64)
    keep = np.isfinite(latency)
    steps = [st for st, k in zip(_steps(decisions.column(s.steps).to_pylist()), keep, strict=True) if k]
    latency = latency[keep]
    n = latency.size
    cut = float(np.quantile(latency, 1 - tail)) if n else None
    in_tail = latency >= cut if cut is not None else np.zeros(0, dtype=bool)
    names_seen = sorted({k for st in steps for k in st})
    table = np.array([[float(st.get(k, 0.0)) for k in names_seen] for st in steps])
    table = table.reshape(n, len(names_seen))
    step_rows: list[StepTime] = []
    if n and names_seen:
        tail_mean = table[in_tail].mean(axis=0)
        body = table[~in_tail]
        body_mean = body.mean(axis=0) if body.size else np.zeros(len(names_seen))
        total = float(tail_mean.sum()) or 1.0
        step_rows = sorted((StepTime(k, round(float(t), 4), round(float(b), 4), round(float(t) / total, 4))
                            for k, t, b in zip(names_seen, tail_mean, body_mean, strict=True)),
                           key=lambda x: -x.tail_ms)
    computed = [k.removeprefix("feature.") for k in names_seen if k.startswith("feature.")]
    feature_ms = {k: float(table[:, names_seen.index(f"feature.{k}")].mean()) for k in computed} if n else {}
    flips: dict[str, float] = {}
    sampled_rows: list[dict[str, Any]] = []
    present = [f.name for f in spec.features if f.name in names]
    if loop is not None and present and decisions.num_rows:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(decisions.num_rows, size=min(sample, decisions.num_rows), replace=False))
        sampled_rows = decisions.select(present).take(pa.array(pick)).to_pylist()
        flips = _flip_rates(loop, sampled_rows, [k for k in computed if k in present])
    all_ms = sum(feature_ms.values()) or 1.0
    features = tuple(sorted((FeatureCost(k, round(ms, 4), round(ms / all_ms, 4), flips.get(k),
                                         len(sampled_rows))
                             for k, ms in feature_ms.items()), key=lambda f: -f.mean_ms))
    batch = np.asarray(decisions.column(s.batch_rows).to_numpy(zero_copy_only=False), dtype=np.float64) \
        if s.batch_rows in names else np.zeros(0)
    batch = batch[np.isfinite(batch)]
    size = loop.batching.max_rows if loop is not None else 64
    single = batched = None
    if loop is not None and sampled_rows:
        single, batched = _per_row_ms(loop, sampled_rows, 1), _per_row_ms(loop, sampled_rows, max(size, 2))
    advice = BatchingAdvice(
        median_batch_rows=float(np.median(batch)) if batch.size else None,
        single_share=float(np.mean(batch == 1)) if batch.size else None,
        ms_per_row_single=None if single is None else round(single, 4),
        ms_per_row_batched=None if batched is None else round(batched, 4), batch_rows=max(size, 2))
    return TailReport(decisions=n, tail_share=tail, latency_cut_ms=cut, tail_decisions=int(in_tail.sum()),
                      steps=tuple(step_rows), features=features, batching=advice)
