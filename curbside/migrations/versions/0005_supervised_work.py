"""Supervised work: feed cursors, dead letters, and hooks on sent outbox rows.

Declared feed consumers keep their position per bot account (and the failing
item's attempts, so a poisoned item is moved aside after bounded tries, across
restarts too); work given up on is kept in ``matrix_dead_letters`` for the
operator; an outbox row may name a hook the runtime runs once the homeserver
accepted the event.

Revision ID: curbside_0005
Revises: curbside_0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "curbside_0005"
down_revision = "curbside_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("matrix_outbox", sa.Column("sent_hook", sa.String(255), nullable=True))
    op.create_table(
        "matrix_feed_cursors",
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("failing_position", sa.Integer(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account", "consumer", name=op.f("pk_matrix_feed_cursors")),
    )
    op.create_table(
        "matrix_dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matrix_dead_letters")),
    )
    op.create_index(
        op.f("ix_matrix_dead_letters_account"), "matrix_dead_letters", ["account"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_matrix_dead_letters_account"), table_name="matrix_dead_letters")
    op.drop_table("matrix_dead_letters")
    op.drop_table("matrix_feed_cursors")
    op.drop_column("matrix_outbox", "sent_hook")
