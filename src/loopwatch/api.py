"""The functions a notebook, a scheduler or a script calls: check, evaluate, compare.

Each takes the spec as a :class:`~loopwatch.core.spec.Spec` or the path of a
``loopwatch.yaml``, the store as a store object, a directory, or nothing (the
spec's), and times as ISO 8601 strings, dates or datetimes (UTC when they name
no zone). They return the same plain results as the commands of the same name,
each with ``to_dict()``, ``to_frame()`` and ``exit_code``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from loopwatch.core.spec import Spec, load_spec
from loopwatch.core.window import Instant, Window, utc

if TYPE_CHECKING:
    from loopwatch.core.store import DecisionSource
    from loopwatch.evaluation.report import EvaluationReport
    from loopwatch.monitoring.compare import Comparison
    from loopwatch.monitoring.job import CheckRun

__all__ = ["SpecLike", "compare", "evaluate", "run_checks"]

#: A spec, or the path of its YAML file.
SpecLike = Spec | str | os.PathLike[str]


def run_checks(spec: SpecLike, *, as_of: Instant | None = None,
               store: DecisionSource | str | os.PathLike[str] | None = None,
               checks: Sequence[str] | None = None, update: bool = True) -> CheckRun:
    """Run every registered check (or ``checks``) for the window ending at ``as_of``.

    Parameters
    ----------
    spec
        The monitored model: a spec or the path of its ``loopwatch.yaml``.
    as_of
        End of the current window (default: now), rounded down to a UTC day.
    store
        Where the decisions are (default: the spec's store).
    checks
        Names of the checks to run (default: every registered check).
    update
        Profile new days first (default).

    Returns
    -------
    CheckRun
        The findings, most severe first; ``exit_code`` is 1 when one pages.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pyarrow as pa
    >>> from loopwatch.storage.parquet_store import ParquetStore
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "loopwatch.yaml").write_text(
    ...     "model: m\\nfeatures: [{name: x, dtype: numeric}]\\nreference: {trailing: 3d}\\n")
    >>> rows = [{"decision_id": str(i), "timestamp": f"2026-04-0{1 + i % 5}T10:00:00Z",
    ...          "score": (i % 10) / 10, "x": float(i % 7)} for i in range(500)]
    >>> spec = load_spec(folder / "loopwatch.yaml")
    >>> _ = ParquetStore.for_spec(spec).ingest("decisions", pa.Table.from_pylist(rows), source="doc")
    >>> run = run_checks(folder / "loopwatch.yaml", as_of="2026-04-06")
    >>> run.as_of, run.exit_code
    (datetime.datetime(2026, 4, 6, 0, 0, tzinfo=datetime.timezone.utc), 0)
    >>> list(run.to_frame().columns[:4])
    ['severity', 'kind', 'check', 'statistic']
    """
    from loopwatch.monitoring import job

    model = _spec(spec)
    when = utc(as_of) if as_of is not None else datetime.now(UTC)
    return job.run_checks(model, as_of=when, store=_store(model, store), checks=checks,
                          update=update)


def evaluate(spec: SpecLike, *, start: Instant | None = None, end: Instant | None = None,
             window: Window | None = None,
             store: DecisionSource | str | os.PathLike[str] | None = None,
             threshold: float | None = None, update: bool = True) -> EvaluationReport:
    """Evaluate the model on ``[start, end)`` (or ``window``) from its stored decisions and outcomes.

    Parameters
    ----------
    spec
        The monitored model: a spec or the path of its ``loopwatch.yaml``.
    start, end
        The window, widened to whole UTC days (default: from the end of the reference
        to the end of the last stored day); or give ``window`` instead.
    window
        The window as one :class:`~loopwatch.core.window.Window`.
    store
        Where the decisions are (default: the spec's store).
    threshold
        Decision threshold (default: the spec's, else 0.5).
    update
        Profile new days and outcomes first (default).

    Raises
    ------
    ValueError
        ``window`` given together with ``start`` or ``end``.
    """
    from loopwatch.evaluation import report

    if window is not None:
        if start is not None or end is not None:
            raise ValueError("give either window or start and end, not both")
        start, end = window.start, window.end
    model = _spec(spec)
    return report.evaluate(model, start=None if start is None else utc(start),
                           end=None if end is None else utc(end), store=_store(model, store),
                           threshold=threshold, update=update)


def compare(spec: SpecLike, reference: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
            current: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
            fdr: float = 0.05) -> Comparison:
    """Which of the spec's features drifted between two sets of decision files (no store needed).

    Parameters
    ----------
    spec
        The features and decision columns: a spec or the path of its ``loopwatch.yaml``.
    reference, current
        A Parquet file, directory or glob pattern, or a list of them, per side.
    fdr
        False discovery rate across the features (Benjamini–Hochberg).
    """
    from pathlib import Path

    from loopwatch.monitoring.compare import compare_files

    def paths(side: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str | Path]:
        if isinstance(side, str | os.PathLike):
            return [Path(side)]
        return [Path(p) for p in side]

    return compare_files(_spec(spec), paths(reference), paths(current), fdr=fdr)


def _spec(spec: SpecLike) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(os.fspath(spec))


def _store(spec: Spec, store: DecisionSource | str | os.PathLike[str] | None) -> DecisionSource:
    """A store object as it is; else the Parquet store at ``store`` (relative to the working
    directory), at ``LOOPWATCH_STORE``, or the spec's, with the settings the CLI uses."""
    from loopwatch.settings import Settings
    from loopwatch.storage.parquet_store import ParquetStore

    if store is not None and not isinstance(store, str | os.PathLike):
        return store
    current = Settings()
    key = current.pii_key.get_secret_value().encode() if current.pii_key else None
    location = current.store if store is None else os.fspath(store)
    if location is not None and store is not None and "://" not in location:
        location = os.path.abspath(location)
    return ParquetStore.for_spec(spec, location=location, pii_key=key,
                                 engine_memory=current.engine_memory)
