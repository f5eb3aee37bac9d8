"""Mitigation flags: what the control plane tells the prediction loop to do, set and reverted.

Revision ID: 0003_flags
Revises: 0002_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopwatch.storage.control.tables import UTCDateTime

revision = "0003_flags"
down_revision: str | None = "0002_outbox"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("mitigation", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("automatic", sa.Boolean, nullable=False),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("run_time", UTCDateTime(), nullable=True),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("reverted_at", UTCDateTime(), nullable=True),
        sa.Column("reverted_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_flags_model_state", "flags", ["model", "state"])


def downgrade() -> None:
    op.drop_table("flags")
