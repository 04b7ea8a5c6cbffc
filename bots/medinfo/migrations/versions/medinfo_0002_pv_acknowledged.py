"""Who on the PV team acknowledged a safety report forwarded to them, and when.

Revision ID: medinfo_0002
Revises: medinfo_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "medinfo_0002"
down_revision = "medinfo_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("medinfo_pv_reports") as batch:
        batch.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("acknowledged_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("medinfo_pv_reports") as batch:
        batch.drop_column("acknowledged_by")
        batch.drop_column("acknowledged_at")
