"""Fax bridge: received faxes held until a new DM's owner has joined.

Revision ID: bridge_0002
Revises: bridge_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bridge_0002"
down_revision = "bridge_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bridge_held_deliveries",
        sa.Column("inbound_id", sa.String(32), primary_key=True),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("puppet_id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_bridge_held_deliveries_room_id"), "bridge_held_deliveries",
                    ["room_id"])


def downgrade() -> None:
    op.drop_table("bridge_held_deliveries")
