"""The model registry: versions with their lineage, metrics at registration and stage.

A stage change is announced to the sinks as a change event that belongs to no
alert, so a notification's ``alert_id`` may now be empty.

Revision ID: 0005_model_registry
Revises: 0004_risk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopwatch.storage.control.tables import UTCDateTime

revision = "0005_model_registry"
down_revision: str | None = "0004_risk"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("artifact", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("training_start", UTCDateTime(), nullable=True),
        sa.Column("training_end", UTCDateTime(), nullable=True),
        sa.Column("data_fingerprint", sa.String(200), nullable=True),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("spec_version", sa.String(100), nullable=True),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("source", sa.String(400), nullable=True),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.Column("stage_changed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
    )
    op.create_index("ix_model_versions_model_stage", "model_versions", ["model", "stage"])
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("alert_id", existing_type=sa.Integer, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE alert_id IS NULL")
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("alert_id", existing_type=sa.Integer, nullable=False)
    op.drop_table("model_versions")
