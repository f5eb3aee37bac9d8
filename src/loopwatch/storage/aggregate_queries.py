"""The aggregate queries both profile plans run, and what their results become.

Each query is a ``UNION ALL`` of small group-bys over rows of the per-decision columns
(:mod:`loopwatch.storage.decision_columns`) keyed by day (``_day``) and cohort codes
(``_d{i}``): counts per bin, labels per score bin, moments, sketches of unseen values.
Engines return different integer widths (:func:`normalize` fixes one schema), and
:func:`decode` turns day indexes and cohort codes into the long tables of
:class:`~loopwatch.core.profile_parts.ProfileParts`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.profile_parts import ProfileParts
from loopwatch.core.profile_stats import HLL_BITS
from loopwatch.storage.bin_expressions import hll_rank

__all__ = ["NULL_VALUE", "RAW", "counts_query", "decode", "labels_query", "moments_query",
           "normalize", "sketch_query", "union"]


def union(branches: list[Any]) -> Any:
    import ibis

    return ibis.union(*branches, distinct=False) if len(branches) > 1 else branches[0]


def counts_query(chunk: Any, pairs: list[tuple[int, int]], n_features: int) -> Any:
    """Decisions per (day, cohort value, pseudo-feature, bin): one small group-by a pair.

    Feature bins also carry the score sum and positive decisions (the global cohort's
    :attr:`~loopwatch.core.profile_parts.ProfileParts.by_bin` is their sum over the
    values of one dimension).
    """
    import ibis

    branches = []
    for i, k in pairs:
        sums = k < n_features
        g = chunk.group_by(["_day", f"_d{i}", f"_s{k}"]).aggregate(
            n=ibis._.count(),
            score_sum=ibis._._score.sum() if sums else ibis.literal(None, "float64"),
            positive=ibis._._pos.sum() if sums else ibis.literal(None, "int64"))
        branches.append(g.select(day=g._day, code=g[f"_d{i}"], feature=ibis.literal(k, "int32"),
                                 bin=g[f"_s{k}"] - 1, n=g.n, score_sum=g.score_sum,
                                 positive=g.positive))
    return union(branches)


def labels_query(chunk: Any, n_dims: int) -> Any:
    """Decisions and the outcomes' value per (day, cohort value, label × score bin)."""
    import ibis

    branches = []
    for i in range(n_dims):
        g = chunk.group_by(["_day", f"_d{i}", "_lab"]).aggregate(
            n=ibis._.count(), value_sum=ibis._._val.sum(), value_sq=(ibis._._val * ibis._._val).sum())
        branches.append(g.select(day=g._day, code=g[f"_d{i}"], lab=g._lab, n=g.n,
                                 value_sum=g.value_sum, value_sq=g.value_sq))
    return union(branches)


def moments_query(rows: Any, n_dims: int, n_numeric: int, n_features: int) -> Any:
    """Moments, missing values, errors and latency sums per (day, cohort value)."""
    aggs = _moment_aggregates(n_numeric, n_features)
    branches = []
    for i in range(n_dims):
        g = rows.group_by(["_day", f"_d{i}"]).aggregate(**aggs)
        branches.append(g.select(day=g._day, code=g[f"_d{i}"], **{k: g[k] for k in aggs}))
    return union(branches)


def _moment_aggregates(n_numeric: int, n_features: int) -> dict[str, Any]:
    import ibis

    aggs: dict[str, Any] = {"n": ibis._.count(), "errors": ibis._._err.sum(),
                            "lat_count": ibis._._lat.count(), "lat_sum": ibis._._lat.sum()}
    for j in range(n_numeric):
        x = ibis._[f"_x{j}"]
        aggs |= {f"{j}_count": x.count(), f"{j}_sum": x.sum(), f"{j}_sum_sq": (x * x).sum(),
                 f"{j}_min": x.min(), f"{j}_max": x.max()}
    for j in range(n_numeric, n_features):
        aggs[f"{j}_nulls"] = ibis.ifelse(ibis._[f"_s{j}"] == 0, 1, 0).sum()
    return aggs


def sketch_query(chunk: Any, n_dims: int, categorical: range) -> Any:
    """HyperLogLog registers of unseen categorical values per (day, cohort value, feature)."""
    import ibis

    branches = []
    for i in range(n_dims):
        for j in categorical:
            rows = chunk.filter(chunk[f"_h{j}"].notnull())
            hashed = rows[f"_h{j}"]
            g = (rows.select(_day=rows._day, _code=rows[f"_d{i}"],
                             _register=hashed % (1 << HLL_BITS), _rank=hll_rank(hashed))
                 .group_by(["_day", "_code", "_register"]).aggregate(rank=ibis._._rank.max()))
            branches.append(g.select(day=g._day, code=g._code, feature=ibis.literal(j, "int32"),
                                     register=g._register, rank=g["rank"]))
    return union(branches)


def stacked_counts_query(chunk: Any, pairs: list[tuple[int, int]], n_features: int) -> Any:
    """What :func:`counts_query` returns, as one group-by over the rows stacked by pair.

    Each row becomes one row per (dimension, pseudo-feature) pair, holding that pair's
    cohort code, feature and slot; codes of different dimensions are distinct, so grouping
    by (day, code, feature, slot) counts each pair's bins apart. One aggregate (one shuffle
    on Spark) instead of one per pair.
    """
    import ibis

    stacked = chunk.select(
        "_day", "_score", "_pos",
        _e=ibis.array([ibis.struct({"code": chunk[f"_d{i}"], "feature": ibis.literal(k, "int32"),
                                    "slot": chunk[f"_s{k}"]}) for i, k in pairs]).unnest())
    stacked = stacked.select("_day", "_score", "_pos", _code=stacked._e["code"],
                             _feature=stacked._e["feature"], _slot=stacked._e["slot"])
    g = stacked.group_by(["_day", "_code", "_feature", "_slot"]).aggregate(
        n=ibis._.count(), score_sum=ibis._._score.sum(), positive=ibis._._pos.sum())
    sums = g._feature < n_features  # the score and action × score, latency slots carry none
    return g.select(day=g._day, code=g._code, feature=g._feature, bin=g._slot - 1, n=g.n,
                    score_sum=ibis.ifelse(sums, g.score_sum, ibis.literal(None, "float64")),
                    positive=ibis.ifelse(sums, g.positive, ibis.literal(None, "int64")))


def _stacked_codes(chunk: Any, n_dims: int, keep: list[str]) -> Any:
    """``chunk``'s columns ``keep``, one row per dimension with its cohort code as ``_code``."""
    import ibis

    return chunk.select(*keep, _code=ibis.array([chunk[f"_d{i}"] for i in range(n_dims)]).unnest())


def stacked_labels_query(chunk: Any, n_dims: int) -> Any:
    """What :func:`labels_query` returns, as one group-by over the rows stacked by dimension."""
    import ibis

    g = (_stacked_codes(chunk, n_dims, ["_day", "_lab", "_val"])
         .group_by(["_day", "_code", "_lab"])
         .aggregate(n=ibis._.count(), value_sum=ibis._._val.sum(),
                    value_sq=(ibis._._val * ibis._._val).sum()))
    return g.select(day=g._day, code=g._code, lab=g._lab, n=g.n, value_sum=g.value_sum,
                    value_sq=g.value_sq)


def stacked_moments_query(rows: Any, n_dims: int, n_numeric: int, n_features: int) -> Any:
    """What :func:`moments_query` returns, as one group-by over the rows stacked by dimension."""
    keep = ["_day", "_err", "_lat", *(f"_x{j}" for j in range(n_numeric)),
            *(f"_s{j}" for j in range(n_numeric, n_features))]
    aggs = _moment_aggregates(n_numeric, n_features)
    g = _stacked_codes(rows, n_dims, keep).group_by(["_day", "_code"]).aggregate(**aggs)
    return g.select(day=g._day, code=g._code, **{k: g[k] for k in aggs})


def stacked_sketch_query(chunk: Any, n_dims: int, categorical: range) -> Any:
    """What :func:`sketch_query` returns, as one group-by over the rows with an unseen value,
    stacked by (dimension, categorical feature)."""
    import ibis

    unseen = chunk.filter(ibis.or_(*(chunk[f"_h{j}"].notnull() for j in categorical)))
    stacked = unseen.select(
        "_day", _e=ibis.array([ibis.struct({"code": unseen[f"_d{i}"],
                                            "feature": ibis.literal(j, "int32"),
                                            "hash": unseen[f"_h{j}"]})
                               for i in range(n_dims) for j in categorical]).unnest())
    rows = stacked.filter(stacked._e["hash"].notnull())
    hashed = rows._e["hash"]
    g = (rows.select(_day=rows._day, _code=rows._e["code"], _feature=rows._e["feature"],
                     _register=hashed % (1 << HLL_BITS), _rank=hll_rank(hashed))
         .group_by(["_day", "_code", "_feature", "_register"]).aggregate(rank=ibis._._rank.max()))
    return g.select(day=g._day, code=g._code, feature=g._feature, register=g._register,
                    rank=g["rank"])


NULL_VALUE = "(null)"

_I32, _I64, _F64 = pa.int32(), pa.int64(), pa.float64()

#: What each query returns, keyed by (day, code) where code indexes the cohort values.
RAW = {
    "counts": [("day", _I32), ("code", _I32), ("feature", _I32), ("bin", _I32), ("n", _I64),
               ("score_sum", _F64), ("positive", _I64)],
    "labels": [("day", _I32), ("code", _I32), ("lab", _I32), ("n", _I64),
               ("value_sum", _F64), ("value_sq", _F64)],
    "moments": [("day", _I32), ("code", _I32), ("n", _I64), ("errors", _I64),
                ("lat_count", _I64), ("lat_sum", _F64)],
    "sketch": [("day", _I32), ("code", _I32), ("feature", _I32), ("register", _I32),
               ("rank", _I32)],
}

#: Sums that an engine returns as null over no values, where the profile counts zero.
_ZERO_IF_NULL = ("value_sum", "value_sq", "score_sum", "positive", "errors")

def _raw_schema(name: str, n_numeric: int, n_features: int) -> pa.Schema:
    fields = list(RAW[name])
    if name == "moments":
        for j in range(n_numeric):
            fields += [(f"{j}_count", _I64), (f"{j}_sum", _F64), (f"{j}_sum_sq", _F64),
                       (f"{j}_min", _F64), (f"{j}_max", _F64)]
        fields += [(f"{j}_nulls", _I64) for j in range(n_numeric, n_features)]
    return pa.schema(fields)


def normalize(table: pa.Table | None, name: str, n_numeric: int, n_features: int) -> pa.Table:
    """Engines return different integer widths; fix a query's result to one schema."""
    schema = _raw_schema(name, n_numeric, n_features)
    if table is None:
        return schema.empty_table()
    arrays = []
    for field_ in schema:
        column = table.column(field_.name).cast(field_.type)
        if field_.name in _ZERO_IF_NULL or field_.name.endswith("_nulls"):
            column = column.fill_null(0)
        arrays.append(column)
    return pa.table(arrays, schema=schema)


def decode(day0: int, values: list[tuple[int, str]], dims: tuple[str, ...],
            features: list[str], n_scores: int, raw: dict[str, pa.Table],
            n_binned: int) -> ProfileParts:
    """Turn day indexes and cohort codes into the long (day, dim, value, ...) tables."""
    value_dim = np.array([d for d, _ in values], np.int32)
    value_text = pa.array([v for _, v in values], pa.string())

    def day_of(table: pa.Table) -> pa.Array:
        day = table.column("day").to_numpy().astype(np.int64)
        return pa.array((day + day0) * 86_400_000_000, pa.int64()).cast(_DAY[1])

    def head(table: pa.Table) -> dict[str, Any]:
        # values as a dictionary array: no string is built per row
        code = table.column("code").to_numpy()
        return {"day": day_of(table), "dim": pa.array(value_dim[code], pa.int32()),
                "value": pa.DictionaryArray.from_arrays(pa.array(code, pa.int32()), value_text)}

    def rest(table: pa.Table, skip: tuple[str, ...] = ("day", "code")) -> dict[str, Any]:
        return {name: table.column(name) for name in table.column_names if name not in skip}

    labels = raw["labels"]
    label, score_bins = np.divmod(labels.column("lab").to_numpy(), n_scores)
    labels_t = pa.table({**head(labels), "bin": pa.array(score_bins, pa.int32()),
                         "label": pa.array(label, pa.int32()),
                         **rest(labels, ("day", "code", "lab"))}, schema=_LABELS)
    counts = raw["counts"]
    # the global cohort's feature bins: the sum over the values of the first dimension
    first_dim = pc.equal(pa.array(value_dim[counts.column("code").to_numpy()], pa.int32()), 0)
    by_bin = (counts.filter(pc.and_(first_dim, pc.less(counts.column("feature"), len(features))))
              .group_by(["day", "feature", "bin"])
              .aggregate([("n", "sum"), ("score_sum", "sum"), ("positive", "sum")])
              .rename_columns({"n_sum": "n", "score_sum_sum": "score_sum",
                               "positive_sum": "positive"}))
    return ProfileParts(
        dims=dims, features=tuple(features),
        counts=pa.table({**head(counts), **rest(counts, ("day", "code", "score_sum",
                                                          "positive"))}, schema=_COUNTS),
        moments=pa.table({**head(raw["moments"]), **rest(raw["moments"])}),
        labels=labels_t,
        sketch=pa.table({**head(raw["sketch"]), **rest(raw["sketch"])}, schema=_SKETCH),
        by_bin=pa.table({"day": day_of(by_bin), **rest(by_bin, ("day",))}, schema=_BY_BIN),
        n_binned=n_binned)


_DAY = ("day", pa.timestamp("us", tz="UTC"))

_VALUE = ("value", pa.dictionary(pa.int32(), pa.string()))

_COUNTS = pa.schema([_DAY, ("dim", pa.int32()), _VALUE, ("feature", pa.int32()),
                     ("bin", pa.int32()), ("n", pa.int64())])

_SKETCH = pa.schema([_DAY, ("dim", pa.int32()), _VALUE, ("feature", pa.int32()),
                     ("register", pa.int32()), ("rank", pa.int32())])

_LABELS = pa.schema([_DAY, ("dim", pa.int32()), _VALUE, ("bin", pa.int32()),
                     ("label", pa.int32()), ("n", pa.int64()), ("value_sum", pa.float64()),
                     ("value_sq", pa.float64())])

_BY_BIN = pa.schema([_DAY, ("feature", pa.int32()), ("bin", pa.int32()), ("n", pa.int64()),
                     ("score_sum", pa.float64()), ("positive", pa.int64())])
