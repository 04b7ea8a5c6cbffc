"""Verified rooms by consent: owners, consented invites, announced upgrades, room settings.

Revision ID: curbside_0006
Revises: curbside_0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "curbside_0006"
down_revision = "curbside_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verified_room_settings",
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("invites_by", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_verified_room_settings")),
    )
    op.create_table(
        "verified_room_owners",
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("named_by", sa.String(255), nullable=False),
        sa.Column("named_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_verified_room_owners")),
    )
    op.create_table(
        "verified_room_consents",
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("consented_by", sa.String(255), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_verified_room_consents")),
    )
    op.create_table(
        "verified_room_upgrades",
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("successor_room_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_verified_room_upgrades")),
    )


def downgrade() -> None:
    for table in ("verified_room_upgrades", "verified_room_consents", "verified_room_owners",
                  "verified_room_settings"):
        op.drop_table(table)
