"""The notification outbox: one row per alert state change per sink, delivered by a worker.

Revision ID: 0002_outbox
Revises: 0001_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopwatch.storage.control.tables import UTCDateTime

revision = "0002_outbox"
down_revision: str | None = "0001_alerts"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(60), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.UniqueConstraint("sink", "idempotency_key", name="uq_notifications_sink_key"),
    )
    op.create_index("ix_notifications_sink_state", "notifications", ["sink", "state", "id"])
    op.create_index("ix_notifications_alert", "notifications", ["alert_id"])


def downgrade() -> None:
    op.drop_table("notifications")
