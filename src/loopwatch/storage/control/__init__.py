"""The control plane: alert state across runs and the append-only audit log, in one SQL database.

SQLAlchemy Core over SQLite (a file in the store, the default) or PostgreSQL (by
URL, ``LOOPWATCH_CONTROL_URL``); the schema is one chain of Alembic migrations
shipped in :mod:`.migrations` and applied when the database is opened. Later
tables (a notification outbox, mitigation flags, registries) are new migrations
in the same chain, on the same engine.
"""

from loopwatch.storage.control.database import control_url, open_engine
from loopwatch.storage.control.flags import ControlFlags, Flags
from loopwatch.storage.control.plane import ControlPlane
from loopwatch.storage.control.records import AlertList, ApplyResult, AuditEntry, Transition
from loopwatch.storage.control.stats import KindStats, alert_stats

__all__ = ["AlertList", "ApplyResult", "AuditEntry", "ControlFlags", "ControlPlane", "Flags", "KindStats",
           "Transition", "alert_stats",
           "control_url", "open_engine"]
