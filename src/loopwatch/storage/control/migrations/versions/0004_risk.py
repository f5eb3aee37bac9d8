"""Each alert states its downstream risk in words.

Revision ID: 0004_risk
Revises: 0003_flags
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_risk"
down_revision: str | None = "0003_flags"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("risk", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("risk")
