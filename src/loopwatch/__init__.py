"""loopwatch: is this model still working, for whom, and at what cost?

The public API: what a notebook, a scheduler or a service calls. Checks,
evaluation and comparison (:func:`run_checks`, :func:`evaluate`, :func:`compare`)
take a spec or the path of its YAML file, and times as strings, dates or
datetimes; their results (:class:`CheckRun`, :class:`EvaluationReport`,
:class:`Comparison`) hold :class:`Finding` objects and turn into a pandas
DataFrame with ``to_frame()``. Everything else (schemas, profiles, the store's
parts) stays importable from its own module.

Importing ``loopwatch`` opens no file or socket and imports neither the query
engine, pandas nor the web stack: the names below that need them are loaded on
first use.

Examples
--------
>>> import loopwatch
>>> loopwatch.Window.of("2026-04-01", "2026-04-08")
Window('2026-04-01', '2026-04-08')
>>> loopwatch.Severity.PAGE > loopwatch.Severity.WARNING
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopwatch.api import compare, evaluate, run_checks
from loopwatch.core.alerts import Alert
from loopwatch.core.findings import Finding, Severity
from loopwatch.core.spec import Spec, load_spec
from loopwatch.core.window import Window
from loopwatch.errors import (
    InputError,
    LoggerClosedError,
    LoopwatchError,
    SpecError,
    StoreError,
)

if TYPE_CHECKING:
    from loopwatch.evaluation.report import EvaluationReport
    from loopwatch.monitoring.compare import Comparison
    from loopwatch.monitoring.job import CheckRun
    from loopwatch.prediction.logger import DecisionLogger
    from loopwatch.settings import Settings
    from loopwatch.storage.control.flags import Flags
    from loopwatch.storage.ingest import ingest_file, ingest_table
    from loopwatch.storage.parquet_store import ParquetStore

__all__ = [
    "Alert",
    "CheckRun",
    "Comparison",
    "DecisionLogger",
    "EvaluationReport",
    "Finding",
    "Flags",
    "InputError",
    "LoggerClosedError",
    "LoopwatchError",
    "ParquetStore",
    "Settings",
    "Severity",
    "Spec",
    "SpecError",
    "StoreError",
    "Window",
    "compare",
    "evaluate",
    "ingest_file",
    "ingest_table",
    "load_spec",
    "run_checks",
]

# public names whose modules load the store, pandas or the logger's threads: imported on first use
_LAZY = {
    "CheckRun": "loopwatch.monitoring.job",
    "Comparison": "loopwatch.monitoring.compare",
    "DecisionLogger": "loopwatch.prediction.logger",
    "EvaluationReport": "loopwatch.evaluation.report",
    "Flags": "loopwatch.storage.control.flags",
    "ParquetStore": "loopwatch.storage.parquet_store",
    "Settings": "loopwatch.settings",
    "ingest_file": "loopwatch.storage.ingest",
    "ingest_table": "loopwatch.storage.ingest",
}


def __getattr__(name: str) -> object:
    from importlib import import_module

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loopwatch' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__version__ = "0.1.0"
