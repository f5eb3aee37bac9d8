"""A one-off drift comparison of two sets of decision files, without a store.

:func:`compare_files` reads the reference and current Parquet files with DuckDB, fits
the bins on the reference, aggregates each side as one bucket of the global cohort
(:class:`~loopwatch.storage.window.WindowPlan`: only aggregates leave the engine, and
memory does not grow with the rows), and decides for every feature whether it drifted
(:func:`~loopwatch.monitoring.drift.drift_report`). It is what ``loopwatch compare``
runs; the monitoring job (:mod:`loopwatch.monitoring.job`) compares stored daily
profiles instead.
"""

from __future__ import annotations

import glob
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from loopwatch.core.profile import ALL, Profile, utc_day_start
from loopwatch.core.spec import Spec
from loopwatch.errors import InputError
from loopwatch.monitoring.drift import FeatureDrift, drift_report
from loopwatch.storage.duckdb_engine import DEFAULT_ENGINE_MEMORY, duckdb_connection
from loopwatch.storage.fitting import fit_binning
from loopwatch.storage.window import WindowPlan

__all__ = ["Comparison", "compare_files"]


@dataclass(frozen=True)
class Comparison:
    """Both sides' profiles and the drift decision of every feature."""

    reference: Profile
    current: Profile
    features: tuple[FeatureDrift, ...]
    seconds: float

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
        Parquet files, directories (every ``*.parquet`` below) or glob patterns.
    fdr
        False discovery rate across the features (Benjamini–Hochberg).
    engine_memory
        The most memory DuckDB takes before spilling to disk.

    Raises
    ------
    InputError
        A side matches no file, lacks a column the spec needs, holds a column of the wrong
        type, or holds no decision.
    """
    began = time.perf_counter()
    con = duckdb_connection(engine_memory)
    needed = _needed(spec)
    tables = {}
    for side, paths in (("reference", reference), ("current", current)):
        files = _files(paths, side)
        # files of one side may differ in columns (one written before a feature was
        # added): a column a file lacks reads as null there
        table = con.read_parquet([str(f) for f in files], union_by_name=True)
        where = f"{side} files ({files[0]}{' …' if len(files) > 1 else ''})"
        schema = table.schema()
        missing = [name for name in needed if name not in schema]
        if missing:
            raise InputError(f"{where} lack the column(s) {', '.join(map(repr, missing))} "
                             f"that the spec {spec.model!r} needs")
        wrong = [f"{name!r} is {schema[name]}, expected {kind}"
                 for name, kind in _kinds(spec).items() if not _is(schema[name], kind)]
        if wrong:
            raise InputError(f"{where}: {'; '.join(wrong)}")
        ts = table[spec.columns.timestamp]
        span = table.aggregate(first=ts.min(), last=ts.max(), n=table.count()).to_pyarrow()
        first, last, n = (span.column(name)[0].as_py() for name in ("first", "last", "n"))
        if not n:
            raise InputError(f"the {side} files hold no decision")
        tables[side] = (table.select(*needed), utc_day_start(first),
                        utc_day_start(last) + timedelta(days=1))
    binning = fit_binning(tables["reference"][0], spec)
    profiles: dict[str, Profile] = {}
    # one plan for both sides: building and compiling it costs about 0.4 s
    with WindowPlan(spec, binning, tables["reference"][0].schema(), con=con) as plan:
        for side, (table, start, end) in tables.items():
            parts = plan.run(table, day=start)
            profiles[side] = parts.profiles(binning, start=start, end=end, cohorts=[ALL])[ALL]
    report = drift_report(profiles["reference"], profiles["current"], binning, fdr=fdr)
    return Comparison(profiles["reference"], profiles["current"], tuple(report),
                      time.perf_counter() - began)


def _needed(spec: Spec) -> list[str]:
    c = spec.columns
    optional = [name for name in (c.action, c.latency, c.error, c.threshold) if name]
    # the decision id picks the fit's sample of the reference
    return [c.decision_id, c.timestamp, c.score, *optional,
            *(f.name for f in spec.stored_features)]


def _kinds(spec: Spec) -> dict[str, str]:
    """The kind of value each typed column must hold (categorical columns take any)."""
    c = spec.columns
    kinds = {c.timestamp: "a timestamp", c.score: "numeric"}
    kinds |= {name: "numeric" for name in (c.latency, c.threshold) if name}
    for feature in spec.stored_features:
        if feature.stored_dtype in ("numeric", "boolean"):
            kinds[feature.name] = feature.stored_dtype
    return kinds


def _is(dtype: Any, kind: str) -> bool:
    if dtype.is_null():  # a column of nulls only
        return True
    if kind == "a timestamp":
        return bool(dtype.is_timestamp())
    if kind == "boolean":
        return bool(dtype.is_boolean())
    return bool(dtype.is_numeric())


def _files(paths: Sequence[str | Path], side: str) -> list[Path]:
    """Parquet files named, below directories, or matching glob patterns (sorted)."""
    found: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found += sorted(path.rglob("*.parquet"))
        elif path.is_file():
            found.append(path)
        else:
            found += sorted(Path(p) for p in glob.glob(str(entry), recursive=True)
                            if Path(p).is_file())
    if not found:
        raise InputError(f"no {side} file matches {', '.join(map(str, paths)) or '(nothing)'}")
    return found

