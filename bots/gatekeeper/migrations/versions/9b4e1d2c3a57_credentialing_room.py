"""Gatekeeper: the credentialing team and room, and where each request was posted.

Revision ID: 9b4e1d2c3a57
Revises: 9a4b6c8d0e12
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9b4e1d2c3a57"
down_revision = "9a4b6c8d0e12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gatekeeper_verifiers",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_room_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_gatekeeper_verifiers"),
    )
    op.create_table(
        "gatekeeper_credentialing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gatekeeper_credentialing"),
    )
    op.add_column("gatekeeper_requests", sa.Column("posted_room_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gatekeeper_requests") as batch:
        batch.drop_column("posted_room_id")
    op.drop_table("gatekeeper_credentialing")
    op.drop_table("gatekeeper_verifiers")
