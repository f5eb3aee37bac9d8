"""A model version records its artifact's SHA-256 at registration, so a changed file is refused.

Revision ID: 0006_artifact_sha256
Revises: 0005_model_registry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_artifact_sha256"
down_revision: str | None = "0005_model_registry"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("artifact_sha256", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("artifact_sha256")
