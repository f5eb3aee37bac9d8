"""Training data from the logs: decisions joined with the outcomes known at a cut-off.

A model retrained on its own decision log must see the labels as they stood at
the moment it would have been trained, not as they stand today: an outcome
observed after the cut-off (a chargeback that arrived a week later) leaks the
future into the training rows and makes an offline evaluation look better than
the model will ever be. :func:`rows_as_of` is that point-in-time join, done in the
engine that holds the logs:

* decisions whose time is in ``[start, end)``, and ``end`` no later than ``as_of``
  (a decision made after the cut-off did not exist then);
* outcomes whose ``observed_at`` is before ``as_of`` only, and of those the latest
  per decision (a correction observed before the cut-off replaces a label; one
  observed after does not);
* optionally only decisions at least ``min_age`` old at the cut-off, whose labels
  have had time to arrive.

The outcome's ``observed_at`` is taken as the time the outcome became known.
The store keeps no separate arrival time, so an outcome ingested late with an
earlier ``observed_at`` counts from its ``observed_at``.

:func:`export_training` writes the rows to one Parquet file, atomically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopwatch.core.spec import MODEL_COLUMN, Spec
from loopwatch.core.store import DecisionSource
from loopwatch.core.window import Window
from loopwatch.errors import InputError, StoreError
from loopwatch.evaluation.bins import ScoreBins
from loopwatch.evaluation.maturity import LabelMaturity, label_maturity
from loopwatch.storage.atomic import commit, write_temp
from loopwatch.storage.profile_history import ProfileHistory
from loopwatch.storage.views import join_outcomes, latest_outcomes

__all__ = ["TrainingExport", "bools", "export_training", "floats", "outcome_values", "rows_as_of",
           "window_maturity"]


def rows_as_of(store: DecisionSource, window: Window, *, as_of: datetime | None = None,
               min_age: timedelta | None = None, labelled_only: bool = False,
               columns: list[str] | None = None) -> pa.Table:
    """Decisions of ``window`` with the latest outcome observed before ``as_of``.

    Parameters
    ----------
    store
        Where the decisions and outcomes are.
    window
        Decision times ``[start, end)``.
    as_of
        The cut-off: outcomes observed at or after it are left out (default: none
        are, the labels as stored now).
    min_age
        Keep only decisions made at least this long before ``as_of``.
    labelled_only
        Keep only decisions with an outcome known at ``as_of``.
    columns
        Decision columns to keep (default: all); the decision's id and time and the
        outcome's columns are always kept.

    Raises
    ------
    InputError
        ``window`` ends after ``as_of``, or ``min_age`` is given without ``as_of``.

    Examples
    --------
    >>> import tempfile
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> from loopwatch.storage.parquet_store import ParquetStore
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "x", "dtype": "numeric"}]})
    >>> store = ParquetStore(tempfile.mkdtemp(), spec=spec)
    >>> _ = store.ingest("decisions", pa.Table.from_pylist(
    ...     [{"decision_id": "a", "timestamp": "2026-03-01T10:00:00Z", "score": 0.9, "x": 1.0}]),
    ...     source="doctest")
    >>> _ = store.ingest("outcomes", pa.Table.from_pylist(
    ...     [{"decision_id": "a", "observed_at": "2026-03-20T00:00:00Z", "label": True}]), source="doctest")
    >>> window = Window.of("2026-03-01", "2026-03-02")
    >>> rows_as_of(store, window, as_of=datetime(2026, 3, 10, tzinfo=UTC)).column("label").to_pylist()
    [None]
    >>> rows_as_of(store, window, as_of=datetime(2026, 3, 25, tzinfo=UTC)).column("label").to_pylist()
    [True]
    """
    spec = store.spec
    if as_of is not None and as_of.tzinfo is None:
        raise InputError(f"as_of must be time-zone aware; got {as_of.isoformat()}")
    if as_of is not None and window.end > as_of:
        raise InputError(f"the window ends at {window.end.isoformat()}, after the cut-off "
                         f"{as_of.isoformat()}: decisions made after the cut-off would leak in; "
                         "end the window at or before it")
    if min_age is not None and as_of is None:
        raise InputError("a minimum age needs a cut-off (as_of)")
    con = store.connect()
    decisions = store.table("decisions", con=con, between=window)
    if columns is not None:
        keep = [c for c in decisions.columns
                if c in set(columns) | {spec.columns.decision_id, spec.columns.timestamp}]
        decisions = decisions.select(keep)
    if min_age is not None and as_of is not None:
        import ibis

        decisions = decisions.filter(decisions[spec.columns.timestamp] < ibis.literal(as_of - min_age))
    outcomes = store.table("outcomes", con=con)
    if as_of is not None:
        import ibis

        outcomes = outcomes.filter(outcomes[spec.outcomes.observed_at] < ibis.literal(as_of))
    joined = join_outcomes(decisions, latest_outcomes(outcomes, spec), spec)
    if labelled_only:
        joined = joined.filter(joined[spec.outcomes.label].notnull())
    joined = joined.order_by([joined[spec.columns.timestamp], joined[spec.columns.decision_id]])
    table: pa.Table = joined.to_pyarrow()
    if MODEL_COLUMN in table.column_names and (columns is None or MODEL_COLUMN not in columns):
        table = table.drop_columns([MODEL_COLUMN])
    return table


@dataclass(frozen=True)
class TrainingExport:
    """What :func:`export_training` wrote: the file, its rows, and how many labels were known."""

    path: Path
    window: Window
    as_of: datetime
    rows: int
    decisions: int
    labelled: int
    positives: int
    excluded_unlabelled: int

    def to_dict(self) -> dict[str, Any]:
        coverage = self.labelled / self.decisions if self.decisions else math.nan
        return {"path": str(self.path), "from": self.window.start.isoformat(),
                "to": self.window.end.isoformat(), "as_of": self.as_of.isoformat(), "rows": self.rows,
                "decisions": self.decisions, "labelled": self.labelled, "positives": self.positives,
                "label_coverage": coverage if math.isfinite(coverage) else None,
                "excluded_unlabelled": self.excluded_unlabelled}


def export_training(store: DecisionSource, window: Window, *, as_of: datetime, out: Path,
                    min_age: timedelta | None = None, include_unlabelled: bool = False,
                    overwrite: bool = False) -> TrainingExport:
    """Write the point-in-time training rows of ``window`` at ``as_of`` to ``out`` (Parquet).

    The file is written under a temporary name, fsynced and renamed: a reader sees
    the old file or the new one, never part of one. Unlabelled decisions are left
    out unless ``include_unlabelled`` (then their label is null).

    Raises
    ------
    InputError
        ``out`` exists and ``overwrite`` is false, or its directory does not exist.
    """
    spec: Spec = store.spec
    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists; choose another path or pass --overwrite")
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: the directory {out.parent} does not exist")
    table = rows_as_of(store, window, as_of=as_of, min_age=min_age)
    labels = table.column(spec.outcomes.label)
    labelled = len(labels) - labels.null_count
    positives = int(pc.sum(pc.cast(pc.fill_null(labels, False), pa.int64())).as_py() or 0)
    kept = table if include_unlabelled else table.filter(pc.is_valid(labels))
    try:
        tmp, _ = write_temp(kept, out.parent)
    except StoreError as exc:
        raise InputError(str(exc)) from exc
    commit(tmp, out)
    return TrainingExport(path=out, window=window, as_of=as_of.astimezone(UTC), rows=kept.num_rows,
                          decisions=table.num_rows, labelled=labelled, positives=positives,
                          excluded_unlabelled=table.num_rows - kept.num_rows)


def bools(column: Any) -> npt.NDArray[np.bool_]:
    """A boolean Arrow column as a NumPy array, null as false."""
    return np.asarray(pc.fill_null(column, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def floats(column: Any) -> npt.NDArray[np.float64]:
    """A numeric Arrow column as a NumPy array of floats, null as NaN."""
    return np.asarray(pc.fill_null(pc.cast(column, pa.float64()), np.nan).to_numpy(zero_copy_only=False),
                      dtype=np.float64)


def outcome_values(rows: pa.Table, spec: Spec) -> npt.NDArray[np.float64] | None:
    """The outcomes' value (``outcomes.value``, e.g. dollars) of ``rows``, missing as 0; ``None`` when
    the spec names no value column or ``rows`` lack it."""
    name = spec.outcomes.value
    if not name or name not in rows.column_names:
        return None
    return np.nan_to_num(floats(rows.column(name)), nan=0.0)


def _strata(rows: pa.Table, spec: Spec, threshold: float) -> npt.NDArray[np.float64]:
    """``by_label`` of two score bins (below, at or above the threshold): negative, positive, unlabelled."""
    flagged = bools(pc.greater_equal(rows.column(spec.columns.score), threshold))
    label = rows.column(spec.outcomes.label)
    known = bools(pc.is_valid(label))
    positive = bools(label)
    out = np.zeros((3, 2))
    for stratum, mask in enumerate((~flagged, flagged)):
        out[0, stratum] = (mask & known & ~positive).sum()
        out[1, stratum] = (mask & positive).sum()
        out[2, stratum] = (mask & ~known).sum()
    return out


def window_maturity(store: DecisionSource, rows: pa.Table, *, threshold: float,
                    maturity: float) -> LabelMaturity:
    """Whether the labels of ``rows`` (a window read by :func:`rows_as_of`) have matured.

    Their label coverage below and at or above the threshold is compared with the
    reference window's, as :func:`~loopwatch.evaluation.maturity.label_maturity` does
    with profiles.
    """
    spec = store.spec
    reference = rows_as_of(store, ProfileHistory(store).reference_window(),
                           columns=[spec.columns.decision_id, spec.columns.score])
    bins = ScoreBins.from_edges((threshold,), lowest=0.0)
    return label_maturity(_strata(rows, spec, threshold), _strata(reference, spec, threshold),
                          bins=bins, threshold=threshold, maturity=maturity)
