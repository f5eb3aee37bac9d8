"""A one-off drift comparison of two sets of decisions (files or tables), without a store.

:func:`compare_files` reads the reference and current files (CSV, Parquet or JSON
Lines, through the readers and validator of ``ingest``:
:mod:`~loopwatch.monitoring.compare_inputs`) into DuckDB, :func:`compare_tables` does
the same with pandas, polars or Arrow tables; both fit the bins on the reference,
aggregate each side as one bucket of the global cohort
(:class:`~loopwatch.storage.window.WindowPlan`: only aggregates leave the engine, and
memory does not grow with the rows), and decides for every feature whether it drifted
(:func:`~loopwatch.monitoring.drift.drift_report`). It is what ``loopwatch compare``
runs; the monitoring job (:mod:`loopwatch.monitoring.job`) compares stored daily
profiles instead.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopwatch.core.profile import ALL, Profile, utc_day_start
from loopwatch.core.schema import TableSchema
from loopwatch.core.spec import Spec
from loopwatch.errors import InputError
from loopwatch.monitoring.compare_inputs import Side, comparison_schema, read_files, read_table
from loopwatch.monitoring.drift import FeatureDrift, drift_report
from loopwatch.storage.duckdb_engine import DEFAULT_ENGINE_MEMORY, duckdb_connection
from loopwatch.storage.fitting import fit_binning
from loopwatch.storage.window import WindowPlan

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "compare_files", "compare_tables"]


@dataclass(frozen=True)
class Comparison:
    """Both sides' profiles and the drift decision of every feature."""

    reference: Profile
    current: Profile
    features: tuple[FeatureDrift, ...]
    seconds: float
    #: rows of each side skipped as invalid (what ``ingest`` would quarantine), by reason
    skipped: Mapping[str, Counter[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<Comparison {self.reference.n} vs {self.current.n} rows: "
                f"{len(self.drifted)} of {len(self.features)} features drifted>")

    def to_frame(self) -> pd.DataFrame:
        """One row per feature: its drift decision and statistics (the JSON's ``features``)."""
        import pandas as pd

        return pd.DataFrame(self.to_dict()["features"])

    @property
    def drifted(self) -> list[str]:
        """The features that drifted, in spec order."""
        return [f.feature for f in self.features if f.drifted]

    @property
    def exit_code(self) -> int:
        """0 when nothing drifted, 1 otherwise (for scripts and CI)."""
        return 1 if self.drifted else 0

    def to_dict(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "reference": {"rows": self.reference.n, "start": self.reference.start.isoformat(),
                          "end": self.reference.end.isoformat()},
            "current": {"rows": self.current.n, "start": self.current.start.isoformat(),
                        "end": self.current.end.isoformat()},
            "drifted": self.drifted,
            "features": [{"feature": f.feature, "kind": f.kind, "drifted": f.drifted,
                          "significant": f.significant, "effect": number(f.effect),
                          "p_value": number(f.p_value), "psi": number(f.stats.psi),
                          "js": number(f.stats.js)} for f in self.features],
            "skipped": {side: dict(reasons) for side, reasons in self.skipped.items()},
            "seconds": round(self.seconds, 3),
        }


def compare_files(spec: Spec, reference: Sequence[str | Path], current: Sequence[str | Path],
                  *, fdr: float = 0.05, engine_memory: str = DEFAULT_ENGINE_MEMORY) -> Comparison:
    """Which of ``spec``'s features drifted between two sets of decision files.

    Parameters
    ----------
    spec
        The features to compare and the decision columns (decision id, timestamp, score,
        and the action, latency, error and threshold columns when the spec names them).
    reference, current
        CSV, Parquet or JSON Lines files, directories (every such file below) or glob
        patterns. Values are read as ``loopwatch ingest`` reads them (integers as
        numbers, timestamps from text); a row ``ingest`` would quarantine is skipped
        and counted in :attr:`Comparison.skipped`.
    fdr
        False discovery rate across the features (Benjamini–Hochberg).
    engine_memory
        The most memory DuckDB takes before spilling to disk.

    Raises
    ------
    InputError
        A side matches no file, a file cannot be read, no file of a side has a column
        the spec needs, or a side holds no valid decision (the message names the side,
        the file and the column).
    """
    return _compare(spec, {
        "reference": lambda con, schema: read_files(con, schema, "reference", reference,
                                                    _needed(spec)),
        "current": lambda con, schema: read_files(con, schema, "current", current, _needed(spec)),
    }, fdr=fdr, engine_memory=engine_memory)


def compare_tables(spec: Spec, reference: Any, current: Any, *, fdr: float = 0.05,
                   engine_memory: str = DEFAULT_ENGINE_MEMORY) -> Comparison:
    """Which of ``spec``'s features drifted between two tables of decisions held in memory.

    ``reference`` and ``current`` are pandas or polars DataFrames, Arrow tables or
    record batches, or lists of dicts (one a decision); otherwise as :func:`compare_files`.

    Examples
    --------
    >>> import pandas as pd
    >>> from loopwatch.core.spec import spec_from_mapping
    >>> spec = spec_from_mapping({"model": "m", "features": [{"name": "amount", "dtype": "numeric"}]})
    >>> def frame(shift):
    ...     return pd.DataFrame({"decision_id": [f"d{i}" for i in range(2000)],
    ...                          "timestamp": "2026-03-01T12:00:00Z",
    ...                          "amount": [(i % 100) + shift for i in range(2000)],
    ...                          "score": 0.5})
    >>> compare_tables(spec, frame(0), frame(0)).drifted
    []
    >>> compare_tables(spec, frame(0), frame(40)).drifted
    ['amount']
    """
    return _compare(spec, {
        "reference": lambda con, schema: read_table(con, schema, "reference", reference),
        "current": lambda con, schema: read_table(con, schema, "current", current),
    }, fdr=fdr, engine_memory=engine_memory)


def _compare(spec: Spec, readers: Mapping[str, Callable[[Any, TableSchema], Side]], *, fdr: float,
             engine_memory: str) -> Comparison:
    began = time.perf_counter()
    con = duckdb_connection(engine_memory)
    schema = comparison_schema(spec)
    needed = _needed(spec)
    tables = {}
    skipped: dict[str, Counter[str]] = {}
    for side, read in readers.items():
        got = read(con, schema)
        # a column no input of the side has cannot be compared (files of one side may
        # differ in columns: one written before a feature was added reads as null there)
        missing = [name for name in _required(spec) if name not in got.columns]
        if missing:
            raise InputError(f"{got.where} lack the column(s) {', '.join(map(repr, missing))} "
                             f"that the spec {spec.model!r} needs")
        if got.table is None:
            raise InputError(f"the {side} {_what(got)} hold no decision{_skipped_note(got)}")
        table = got.table
        ts = table[spec.columns.timestamp]
        span = table.aggregate(first=ts.min(), last=ts.max()).to_pyarrow()
        first, last = (span.column(name)[0].as_py() for name in ("first", "last"))
        tables[side] = (table.select(*needed), utc_day_start(first),
                        utc_day_start(last) + timedelta(days=1))
        skipped[side] = got.skipped
    binning = fit_binning(tables["reference"][0], spec)
    profiles: dict[str, Profile] = {}
    # one plan for both sides: building and compiling it costs about 0.4 s
    with WindowPlan(spec, binning, tables["reference"][0].schema(), con=con) as plan:
        for side, (table, start, end) in tables.items():
            parts = plan.run(table, day=start)
            profiles[side] = parts.profiles(binning, start=start, end=end, cohorts=[ALL])[ALL]
    report = drift_report(profiles["reference"], profiles["current"], binning, fdr=fdr)
    return Comparison(profiles["reference"], profiles["current"], tuple(report),
                      time.perf_counter() - began, skipped)


def _what(side: Side) -> str:
    return "table" if side.where.startswith("the ") else "files"


def _skipped_note(side: Side) -> str:
    if not side.skipped:
        return ""
    first = side.first_skipped
    example = "" if first is None else f"; the first, from {first.source}: {first.reason}"
    return f": all {sum(side.skipped.values()):,} rows are invalid{example}"


def _needed(spec: Spec) -> list[str]:
    c = spec.columns
    optional = [name for name in (c.action, c.latency, c.error, c.threshold) if name]
    # the decision id picks the fit's sample of the reference
    return [c.decision_id, c.timestamp, c.score, *optional,
            *(f.name for f in spec.stored_features)]


def _required(spec: Spec) -> list[str]:
    """The columns some input of each side must have: the score and every compared feature."""
    c = spec.columns
    return [c.decision_id, c.timestamp, c.score, *(f.name for f in spec.stored_features)]
