"""Fax feeds: seqs drawn from a head row per feed, in commit order.

The job-event and inbound feeds took their seq from a database sequence,
which on PostgreSQL hands numbers out in INSERT order, not commit order (see
fax_gateway/feed.py). Each feed gets a head row starting at its current
highest seq, and on PostgreSQL the columns lose their sequence default so
that no row can take a number any other way.

Revision ID: fax_0002
Revises: fax_0001
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fax_0002"
down_revision = "fax_0001"
branch_labels = None
depends_on = None

FEEDS = ("fax_job_events", "fax_inbound")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "fax_feed_heads",
        sa.Column("feed", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_fax_feed_heads")),
    )
    for table in FEEDS:
        op.execute(
            f"INSERT INTO fax_feed_heads (feed, seq) SELECT '{table}', COALESCE(MAX(seq), 0) "
            f"FROM {table}"
        )
        if _postgresql():
            op.alter_column(table, "seq", server_default=None)
            op.execute(f"DROP SEQUENCE {table}_seq_seq")


def downgrade() -> None:
    if _postgresql():
        for table in FEEDS:
            sequence = f"{table}_seq_seq"
            op.execute(f"CREATE SEQUENCE {sequence} OWNED BY {table}.seq")
            op.execute(
                f"SELECT setval('{sequence}', COALESCE(MAX(seq), 0) + 1, false) FROM {table}"
            )
            op.alter_column(table, "seq", server_default=sa.text(f"nextval('{sequence}')"))
    op.drop_table("fax_feed_heads")
