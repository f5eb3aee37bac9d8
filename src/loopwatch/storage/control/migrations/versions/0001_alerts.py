"""Alerts, the findings they group, the audit log and the runs applied.

Revision ID: 0001_alerts
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopwatch.storage.control.tables import UTCDateTime

revision = "0001_alerts"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("peak_severity", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("onset", UTCDateTime(), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("feature", sa.String(200), nullable=True),
        sa.Column("cohort", sa.String(400), nullable=True),
        sa.Column("cohorts", sa.JSON, nullable=False),
        sa.Column("entity", sa.String(400), nullable=True),
        sa.Column("source", sa.String(400), nullable=True),
        sa.Column("metric", sa.String(200), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("runbook", sa.Text, nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("snoozed_until", UTCDateTime(), nullable=True),
        sa.Column("healthy_runs", sa.Integer, nullable=False),
        sa.Column("runs_seen", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
    )
    op.create_index("ix_alerts_model_fingerprint", "alerts", ["model", "fingerprint"])
    op.create_index("ix_alerts_model_state", "alerts", ["model", "state"])
    op.create_table(
        "alert_findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_time", UTCDateTime(), nullable=False),
        sa.Column("suppressed", sa.Boolean, nullable=False),
        sa.Column("finding", sa.JSON, nullable=False),
    )
    op.create_index("ix_alert_findings_alert_run", "alert_findings", ["alert_id", "run_time"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_time", UTCDateTime(), nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_alert", "audit_log", ["alert_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "watch_runs",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("run_time", UTCDateTime(), primary_key=True),
        sa.Column("applied_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("kinds", sa.JSON, nullable=False),
        sa.Column("drafts", sa.Integer, nullable=False),
    )
    op.create_table(
        "model_cursor",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("last_run", UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    for name in ("model_cursor", "watch_runs", "audit_log", "alert_findings", "alerts"):
        op.drop_table(name)
