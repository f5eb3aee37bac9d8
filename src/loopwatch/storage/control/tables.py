"""The control plane's tables, as SQLAlchemy Core metadata.

The migrations in ``migrations/versions`` create these tables; they are written
out by hand (a migration must not change when this module does), and a test
compares the migrated database with this metadata so the two cannot drift.

``alerts``
    one row per cause of one model (its fingerprint) across runs; a resolved
    alert that comes back within ``control.reopen_within`` is reopened, later a
    new row is raised.
``alert_findings``
    the findings each run grouped under an alert (``suppressed`` marks those the
    alert inhibited as symptoms), as JSON, so nothing a run saw is lost.
``audit_log``
    append-only: every state change with who, what, why and when; never updated.
``watch_runs``
    the runs applied per model; a run applied again changes nothing, which is
    how a scheduler that catches up after downtime never raises twice. The row of
    the model's latest run is also what concurrent writers lock.
``notifications``
    the outbox: one row per alert state change per sink, written in the
    transaction of the change; ``pending`` until a worker delivers it
    (``delivered``) or gives up (``dead``). ``idempotency_key`` is sent with
    every attempt, so a receiver can drop the one duplicate a worker killed
    between sending and marking can cause.
``model_versions``
    the model registry: one row per version of a model with its artifact,
    lineage (training window, data fingerprint, features, spec version), metrics
    per cohort at registration, owner and stage; each stage change is audited.
``flags``
    mitigations (:mod:`loopwatch.core.flags`) set by a person or automatically
    on an alert, ``active`` until reverted; each set and revert is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

__all__ = [
    "alert_findings",
    "alerts",
    "audit_log",
    "flags",
    "metadata",
    "model_cursor",
    "model_versions",
    "notifications",
    "watch_runs",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC time on every backend (SQLite stores none: it is added back on reading)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive time cannot be stored in the control plane: {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False),
    Column("fingerprint", String(1000), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("peak_severity", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("onset", UTCDateTime(), nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("headline", Text, nullable=False),
    Column("feature", String(200), nullable=True),
    Column("cohort", String(400), nullable=True),
    Column("cohorts", JSON, nullable=False),
    Column("entity", String(400), nullable=True),
    Column("source", String(400), nullable=True),
    Column("metric", String(200), nullable=True),
    Column("owner", String(200), nullable=True),
    Column("runbook", Text, nullable=True),
    Column("risk", Text, nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("snoozed_until", UTCDateTime(), nullable=True),
    Column("healthy_runs", Integer, nullable=False),
    Column("runs_seen", Integer, nullable=False),
    Column("reopened", Integer, nullable=False),
    Index("ix_alerts_model_fingerprint", "model", "fingerprint"),
    Index("ix_alerts_model_state", "model", "state"),
)

alert_findings = Table(
    "alert_findings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("run_time", UTCDateTime(), nullable=False),
    Column("suppressed", Boolean, nullable=False),
    Column("finding", JSON, nullable=False),
    Index("ix_alert_findings_alert_run", "alert_id", "run_time"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("model", String(200), nullable=False),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_state", String(20), nullable=True),
    Column("to_state", String(20), nullable=True),
    Column("reason", Text, nullable=False),
    Column("run_time", UTCDateTime(), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_alert", "alert_id"),
    Index("ix_audit_log_at", "at"),
)

watch_runs = Table(
    "watch_runs", metadata,
    Column("model", String(200), primary_key=True),
    Column("run_time", UTCDateTime(), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kinds", JSON, nullable=False),
    Column("drafts", Integer, nullable=False),
)

#: One row per model: its latest run; the row every writer of that model's alerts locks first.
model_cursor = Table(
    "model_cursor", metadata,
    Column("model", String(200), primary_key=True),
    Column("last_run", UTCDateTime(), nullable=True),
)

notifications = Table(
    "notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sink", String(60), nullable=False),
    Column("idempotency_key", String(100), nullable=False),
    Column("model", String(200), nullable=False),
    # empty for a change event of no alert (a model version's stage change)
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True),
    Column("event", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("sink", "idempotency_key", name="uq_notifications_sink_key"),
    Index("ix_notifications_sink_state", "sink", "state", "id"),
    Index("ix_notifications_alert", "alert_id"),
)

flags = Table(
    "flags", metadata,
    Column("id", String(200), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("mitigation", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("automatic", Boolean, nullable=False),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True),
    Column("run_time", UTCDateTime(), nullable=True),
    Column("set_at", UTCDateTime(), nullable=False),
    Column("set_by", String(200), nullable=False),
    Column("reverted_at", UTCDateTime(), nullable=True),
    Column("reverted_by", String(200), nullable=True),
    Index("ix_flags_model_state", "model", "state"),
)

model_versions = Table(
    "model_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("stage", String(20), nullable=False),
    Column("artifact", Text, nullable=False),
    Column("artifact_sha256", String(80), nullable=True),
    Column("owner", String(200), nullable=True),
    Column("training_start", UTCDateTime(), nullable=True),
    Column("training_end", UTCDateTime(), nullable=True),
    Column("data_fingerprint", String(200), nullable=True),
    Column("features", JSON, nullable=False),
    Column("spec_version", String(100), nullable=True),
    Column("metrics", JSON, nullable=False),
    Column("description", Text, nullable=True),
    Column("source", String(400), nullable=True),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("registered_by", String(200), nullable=False),
    Column("stage_changed_at", UTCDateTime(), nullable=False),
    UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
    Index("ix_model_versions_model_stage", "model", "stage"),
)
