"""loopwatch: is this model still working, for whom, and at what cost?

The public API. Importing ``loopwatch`` opens no file or socket and imports
neither the query engine nor the web stack; the store's engine is loaded when a
query first runs.
"""

from __future__ import annotations

from loopwatch.core.alerts import Alert
from loopwatch.core.profile import ALL, Binning, Cohort, Profile
from loopwatch.core.schema import Conformed, Rejection, TableSchema, decision_schema, outcome_schema
from loopwatch.core.spec import Feature, Spec, load_spec
from loopwatch.core.store import WriteResult
from loopwatch.errors import (
    InputError,
    LoggerClosedError,
    LoopwatchError,
    SpecError,
    StoreError,
)
from loopwatch.prediction.logger import DecisionLogger
from loopwatch.settings import Settings
from loopwatch.storage.ingest import IngestReport, ingest_file, ingest_table
from loopwatch.storage.parquet_store import ParquetStore
from loopwatch.storage.profile_history import ProfileHistory

__all__ = [
    "ALL",
    "Alert",
    "Binning",
    "Cohort",
    "Conformed",
    "DecisionLogger",
    "Feature",
    "IngestReport",
    "InputError",
    "LoggerClosedError",
    "LoopwatchError",
    "ParquetStore",
    "Profile",
    "ProfileHistory",
    "Rejection",
    "Settings",
    "Spec",
    "SpecError",
    "StoreError",
    "TableSchema",
    "WriteResult",
    "decision_schema",
    "ingest_file",
    "ingest_table",
    "load_spec",
    "outcome_schema",
]

__version__ = "0.1.0"
