"""Fax gateway: the ledger of what became of each received fax (a feed).

Revision ID: fax_0003
Revises: fax_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fax_0003"
down_revision = "fax_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fax_dispositions",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("inbound_id", sa.String(32), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_fax_dispositions")),
        sa.UniqueConstraint("inbound_id", "disposition",
                            name=op.f("uq_fax_dispositions_inbound_id")),
    )
    op.execute("INSERT INTO fax_feed_heads (feed, seq) VALUES ('fax_dispositions', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM fax_feed_heads WHERE feed = 'fax_dispositions'")
    op.drop_table("fax_dispositions")
