"""Gatekeeper: join requests waiting for a verified room's owners.

Revision ID: 9a4b6c8d0e12
Revises: 7c2d4e6f8a90
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9a4b6c8d0e12"
down_revision = "7c2d4e6f8a90"
branch_labels = None
depends_on = "curbside_0006"


def upgrade() -> None:
    op.create_table(
        "gatekeeper_join_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("dm_room_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("notice_event_id", sa.String(255), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gatekeeper_join_requests")),
    )
    for column in ("room_id", "user_id", "state", "notice_event_id", "expires_at"):
        op.create_index(op.f(f"ix_gatekeeper_join_requests_{column}"),
                        "gatekeeper_join_requests", [column])


def downgrade() -> None:
    op.drop_table("gatekeeper_join_requests")
