"""Bin indexes computed in the engine, as Ibis expressions that DuckDB, PostgreSQL and Spark
evaluate alike.

A value's bin is the number of edges at or below it (``edges[i-1] <= x < edges[i]`` is
bin ``i``): a balanced tree of comparisons (:func:`comparison_tree`), about log2(edges)
a value, or one division for the uniform grid of score bins (:func:`score_bin`). Null
and NaN take :data:`NULL_CODE`; NaN orders above every number on all three engines,
which the tree relies on. The sketch of unseen categories ranks hashes in the engine
too (:func:`hll_rank`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from loopwatch.core.profile import uniform_grid
from loopwatch.core.profile_stats import HLL_BITS, HLL_RANK_BITS

__all__ = ["NULL_CODE", "comparison_tree", "hll_rank", "numeric_bin", "score_bin"]

#: Bin index of null and NaN.
NULL_CODE = -1


def comparison_tree(column: Any, edges: Sequence[float], offset: int = 0, *,
                    missing: bool = False) -> Any:
    """Bin index of ``column`` by binary search over ``edges``: ``edges[i-1] <= x < edges[i]``.

    With ``missing``, null and NaN get :data:`NULL_CODE`: both fail every ``x < edge``
    (NaN orders above every number on DuckDB, PostgreSQL and Spark), so only the
    rightmost leaf tells them from the top bin, with ``x <= +inf``. Testing for them
    first, on every row, cost a fifth of the tree.
    """
    import ibis

    if not edges:
        if missing:
            return ibis.ifelse(column <= ibis.literal(math.inf), offset, NULL_CODE)
        return ibis.literal(offset)
    mid = len(edges) // 2
    left = comparison_tree(column, edges[:mid], offset)
    right = comparison_tree(column, edges[mid + 1:], offset + mid + 1, missing=missing)
    return ibis.ifelse(column < float(edges[mid]), left, right)


def score_bin(column: Any, edges: Sequence[float]) -> Any:
    """Score bin: arithmetic for the uniform grid (one division), else the comparison tree."""
    import ibis

    low, high = uniform_grid(edges)
    if low is None or high is None:
        return comparison_tree(column, edges)
    bins = len(edges) + 1
    raw = ((column - low) * (bins / (high - low))).floor().cast("int64")
    return ibis.greatest(ibis.least(raw, bins - 1), 0)


def numeric_bin(column: Any, edges: Sequence[float]) -> Any:
    """A numeric feature's bin by the comparison tree, :data:`NULL_CODE` for null and NaN."""
    return comparison_tree(column, edges, missing=True).cast("int32")


def hll_rank(hashed: Any) -> Any:
    """HyperLogLog rank: position of the first 1 bit in the RANK_BITS above the register.

    ``RANK_BITS - floor(log2(word))`` for a non-zero word: exact in double precision for
    words below 2**53 (the word has at most RANK_BITS bits).
    """
    import ibis

    word = (hashed // (1 << HLL_BITS)).cast("float64")
    top = word.log2().floor().cast("int64")
    return ibis.ifelse(word > 0, HLL_RANK_BITS - top, HLL_RANK_BITS + 1)
