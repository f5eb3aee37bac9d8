"""Bins fixed by a reference: numeric edges, categories and score edges, fitted in the engine.

A profile counts values in bins that a reference window fixed once
(:class:`~loopwatch.core.profile.Binning`), so that profiles months apart stay
comparable. The fit reads only aggregates: min and max of every numeric feature
over every reference row, exact quantiles of a deterministic sample, the
most frequent categories and actions, and the distinct scores when there are few.
"""

from __future__ import annotations

from typing import Any

from loopwatch.core.profile import (
    QUANTILES,
    SCORE_BINS,
    Binning,
    latency_edges,
    numeric_edges,
    score_edges,
)
from loopwatch.core.spec import Spec

__all__ = ["FIT_SAMPLE", "MAX_ACTIONS", "MAX_CATEGORIES", "as_text", "fit_binning", "split_features",
           "without_nan"]

#: Reference categories kept per categorical feature (the most frequent); rarer ones count as unseen.
MAX_CATEGORIES = 10_000
#: About the most reference rows whose numeric quantiles a fit reads (a deterministic sample).
FIT_SAMPLE = 250_000
#: Reference actions kept for the score-by-action histogram (the most frequent).
MAX_ACTIONS = 16


def split_features(spec: Spec) -> tuple[list[str], list[str]]:
    """The stored numeric features and the others (categorical and boolean), in spec order."""
    numeric = [f.name for f in spec.stored_features if f.stored_dtype == "numeric"]
    categorical = [f.name for f in spec.stored_features if f.stored_dtype != "numeric"]
    return numeric, categorical


def as_text(column: Any, dtype: str) -> Any:
    """A categorical value as the text its reference categories hold."""
    import ibis

    if dtype == "boolean":
        return ibis.ifelse(column, "true", "false")
    return column.cast("string")


def without_nan(column: Any) -> Any:
    """``column`` with NaN and infinities as null, which aggregates skip.

    Validation keeps both out of the store; this keeps a store written before it did
    from cutting bins at infinity.

    One expression, which the engine computes once for all the aggregates over it: a
    ``FILTER (WHERE NOT isnan(x))`` on each aggregate made the fit's min and max 3× slower
    (1.8 s against 0.6 s over 3.3M rows and 14 features on DuckDB).
    """
    import ibis

    return ibis.ifelse(column.isnan() | column.isinf(), None, column)


def _valid_score(score: Any, spec: Spec) -> Any:
    """Scores that are finite and within the spec's range, others null: one score of 250
    (written before validation kept such rows out) cannot stretch the score bins."""
    import ibis

    bad = score.isnan() | score.isinf()
    if spec.inputs.score_range is not None:
        low, high = spec.inputs.score_range
        bad = bad | (score < low) | (score > high)
    return ibis.ifelse(bad, None, score)


def fit_binning(table: Any, spec: Spec) -> Binning:
    """Fix bin edges and categories from a reference (an Ibis table of decisions).

    Numeric edges come from the reference's quantiles, min and max
    (:func:`~loopwatch.core.profile.numeric_edges`); categories are the
    :data:`MAX_CATEGORIES` most frequent values (ties by value); score edges are
    exact for ≤ 1,000 distinct scores.
    """
    import ibis

    numeric, categorical = split_features(spec)
    c = spec.columns
    aggregates: dict[str, Any] = {"n": ibis._.count()}
    for i, name in enumerate(numeric):
        column = without_nan(table[name])
        aggregates[f"lo{i}"] = column.min()
        aggregates[f"hi{i}"] = column.max()
    score = _valid_score(table[c.score], spec)
    aggregates["score_lo"] = score.min()
    aggregates["score_hi"] = score.max()
    aggregates["score_distinct"] = score.approx_nunique()
    row = table.aggregate(**aggregates).to_pyarrow().to_pylist()[0]
    quantiles: dict[str, Any] = {}
    unbounded = spec.inputs.score_range is None
    if numeric or unbounded:
        # the quantiles of a deterministic sample (every k-th decision by a hash of its id)
        # of about FIT_SAMPLE rows: the edges move by a fraction of a bin's width, and the
        # quantiles, which dominated a fit over every row, read k times fewer values. Exact
        # quantiles, not a sketch: DuckDB's parallel sketch gave other edges in another
        # process (and so another binning); these agree across runs and, but for the last
        # bit of an interpolation, across DuckDB, PostgreSQL and Spark
        step = max(1, -(-int(row["n"]) // FIT_SAMPLE))
        sample = table if step == 1 else table.filter(table[c.decision_id].hash() % step == 0)
        for i, name in enumerate(numeric):
            quantiles[f"q{i}"] = without_nan(sample[name]).quantile(list(QUANTILES))
        if unbounded:  # the score's own range is unknown: its outer 0.1% cannot stretch the bins
            quantiles["score_q"] = _valid_score(sample[c.score], spec).quantile([0.001, 0.999])
        quantiles = sample.aggregate(**quantiles).to_pyarrow().to_pylist()[0]
    edges = {name: numeric_edges(quantiles[f"q{i}"] or [], row[f"lo{i}"], row[f"hi{i}"])
             for i, name in enumerate(numeric)}
    categories: dict[str, tuple[str, ...]] = {}
    for name in categorical:
        dtype = spec.feature(name).stored_dtype
        if dtype == "boolean":
            categories[name] = ("false", "true")
            continue
        column = table[name]
        top = (table.filter(column.notnull()).group_by(v=as_text(column, dtype))
               .aggregate(n=ibis._.count()).order_by([ibis.desc("n"), "v"]).limit(MAX_CATEGORIES))
        categories[name] = tuple(top.to_pyarrow().column("v").to_pylist())
    distinct = None
    # the estimate only decides whether to count exactly (it errs by a few per cent)
    if row["score_distinct"] is not None and int(row["score_distinct"]) <= 2 * SCORE_BINS:
        values = table.select(s=score).filter(ibis._.s.notnull()).distinct().to_pyarrow()
        if values.num_rows <= SCORE_BINS:
            distinct = sorted(values.column("s").to_pylist())
    lo = row["score_lo"] if row["score_lo"] is not None else 0.0
    hi = row["score_hi"] if row["score_hi"] is not None else 1.0
    if unbounded and quantiles.get("score_q") and None not in quantiles["score_q"]:
        lo, hi = quantiles["score_q"]
    actions: tuple[str, ...] = ()
    if c.action:
        column = table[c.action]
        top = (table.filter(column.notnull()).group_by(a=column)
               .aggregate(n=ibis._.count()).order_by([ibis.desc("n"), "a"]).limit(MAX_ACTIONS))
        actions = tuple(sorted(top.to_pyarrow().column("a").to_pylist()))
    return Binning(numeric=edges, categorical=categories, score=score_edges(distinct, lo, hi),
                   latency=latency_edges(), actions=actions)
