"""What each decision contributes to a profile: the per-row columns, as Ibis expressions,
that both profile plans aggregate.

The daily plan (:mod:`loopwatch.storage.profiling`) puts them in a chunk's projection;
the window plan (:mod:`loopwatch.storage.window`) in one narrow select per
pseudo-feature. A *slot* is a bin + 1, with 0 for a missing value; categorical slots
read the code joined from the reference categories (``_c_f{k}``).
"""

from __future__ import annotations

from typing import Any

from loopwatch.core.profile import Binning
from loopwatch.core.profile_stats import HLL_BITS, HLL_RANK_BITS
from loopwatch.core.spec import Spec
from loopwatch.storage.bin_expressions import numeric_bin
from loopwatch.storage.fitting import as_text

__all__ = ["action_slot", "categorical_slot", "conform", "feature_dtype", "label_columns",
           "latency_slot", "outcome_labels", "positive", "system_columns", "unseen_hash",
           "within_horizon"]

_UNSEEN_HASH_MOD = 1 << (HLL_BITS + HLL_RANK_BITS)


def outcome_labels(outcomes: Any, spec: Spec, *, observed: bool = False) -> Any:
    """The outcomes as ``(_oid, _label, _value)``, to join on the decision id (and ``_obs``,
    the time observed, with ``observed``)."""
    import ibis

    o = spec.outcomes
    value = (outcomes[o.value].cast("float64") if o.value
             else ibis.literal(None).cast("float64"))
    extra = {"_obs": outcomes[o.observed_at]} if observed else {}
    return outcomes.select(_oid=outcomes[o.decision_id], _label=outcomes[o.label], _value=value,
                           **extra)


def within_horizon(rows: Any, outcomes: Any, spec: Spec, horizon: int) -> Any:
    """For each decision of ``rows``, its latest outcome observed at most ``horizon`` seconds
    from the decision's time (either side), as ``(_oid, _label, _value)``.

    ``outcomes`` are :func:`outcome_labels` with ``observed``, every one of them (not only
    the latest): a correction that comes after the horizon is ignored, and the label
    observed within it stands.
    """
    import ibis

    c = spec.columns
    pairs = rows.select(_did=rows[c.decision_id], _ts=rows[c.timestamp])
    pairs = pairs.inner_join(outcomes, pairs._did == outcomes._oid)
    gap = pairs._obs.epoch_seconds() - pairs._ts.epoch_seconds()
    pairs = pairs.filter((gap <= horizon) & (gap >= -horizon))
    rank = ibis.row_number().over(group_by=pairs._oid, order_by=ibis.desc(pairs._obs))
    latest = pairs.mutate(_rank=rank).filter(lambda t: t._rank == 0)
    return latest.select("_oid", "_label", "_value")


def system_columns(joined: Any, spec: Spec) -> dict[str, Any]:
    """What the moments add up besides features: errors (1 a decision) and latency."""
    import ibis

    c = spec.columns
    return {"_err": (ibis.ifelse(joined[c.error].notnull(), 1, 0) if c.error
                     else ibis.literal(0)).cast("int32"),
            "_lat": (joined[c.latency].cast("float64") if c.latency
                     else ibis.literal(None).cast("float64"))}


def label_columns(joined: Any, binning: Binning, labelled: bool, score: Any) -> dict[str, Any]:
    """Label × score bin, and the outcome's value where labelled (``labelled``: ``joined``
    holds the outcomes' ``_label`` and ``_value``)."""
    import ibis

    n_scores = len(binning.score) + 1
    if not labelled:
        return {"_lab": (2 * n_scores + score).cast("int32"),
                "_val": ibis.literal(None).cast("float64")}
    label_code = ibis.cases((joined._label.isnull(), 2), (joined._label, 1), else_=0)
    return {"_lab": (label_code * n_scores + score).cast("int32"),
            "_val": ibis.ifelse(label_code == 2, None, joined._value)}


def categorical_slot(joined: Any, name: str, k: int, binning: Binning) -> Any:
    """Category code + 1 (0 for null, the last for unseen), over the join with its codes."""
    import ibis

    unseen = len(binning.categorical[name])
    return ibis.ifelse(joined[name].isnull(), 0,
                       joined[f"_c_f{k}"].fill_null(unseen) + 1).cast("int32")


def unseen_hash(joined: Any, spec: Spec, name: str, k: int) -> Any:
    """A hash of an unseen category's value (null for seen and null values), for the sketch."""
    import ibis

    hashed = (as_text(joined[name], feature_dtype(spec, name)).hash() % _UNSEEN_HASH_MOD
              + _UNSEEN_HASH_MOD) % _UNSEEN_HASH_MOD
    is_unseen = joined[f"_c_f{k}"].isnull() & joined[name].notnull()
    return ibis.ifelse(is_unseen, hashed, None).cast("int64")


def action_slot(joined: Any, spec: Spec, binning: Binning, score: Any) -> Any:
    """Action code × score bins + score bin + 1: the score histogram split by action."""
    import ibis

    action_column = spec.columns.action
    if action_column and binning.actions:
        action = joined[action_column]
        action_code = ibis.cases(*[(action == a, k) for k, a in enumerate(binning.actions)],
                                 else_=len(binning.actions))
    else:
        action_code = ibis.literal(len(binning.actions))
    n_scores = len(binning.score) + 1
    return (action_code * n_scores + score + 1).cast("int32")


def latency_slot(joined: Any, spec: Spec, binning: Binning) -> Any:
    """Latency bin + 1 (0 without a latency column or value)."""
    import ibis

    latency = spec.columns.latency
    return (numeric_bin(joined[latency].cast("float64"), binning.latency) + 1 if latency
            else ibis.literal(0)).cast("int32")


def positive(rel: Any, spec: Spec) -> Any:
    """1 where the decision was positive: a positive action, or else a score at the threshold."""
    import ibis

    c = spec.columns
    if c.action:
        return ibis.ifelse(rel[c.action].isin(list(spec.positive_actions)), 1, 0)
    threshold = rel[c.threshold].cast("float64") if c.threshold else None
    if spec.threshold is not None:
        fixed = ibis.literal(spec.threshold).cast("float64")
        threshold = fixed if threshold is None else threshold.fill_null(fixed)
    if threshold is None:
        return ibis.literal(0)
    return ibis.ifelse(rel[c.score] >= threshold, 1, 0)


def conform(rows: Any, schema: Any) -> Any:
    """``rows`` with exactly the columns and types of ``schema`` (a file written before a
    column was added lacks it; the store reads it as null)."""
    import ibis

    if rows.schema() == schema:
        return rows
    return rows.select(**{name: rows[name].cast(dtype) if name in rows.columns
                          else ibis.null(dtype) for name, dtype in schema.items()})


def feature_dtype(spec: Spec, name: str) -> str:
    """The stored type of a feature; a cohort or entity column that is not one is text."""
    names = {f.name: f for f in spec.features}
    return names[name].stored_dtype if name in names else "categorical"
