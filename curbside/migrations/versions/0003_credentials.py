"""Verified-credential records, verified rooms, invite blocks.

Revision ID: curbside_0003
Revises: curbside_0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "curbside_0003"
down_revision = "curbside_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verified_credentials",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("npi", sa.String(10), nullable=False),
        sa.Column("legal_name", sa.String(255), nullable=False),
        sa.Column("credential_text", sa.String(64), nullable=False),
        sa.Column("specialty", sa.String(255), nullable=False),
        sa.Column("taxonomy_code", sa.String(10), nullable=False),
        sa.Column("licence_state", sa.String(2), nullable=False),
        sa.Column("licence_number", sa.String(64), nullable=False),
        sa.Column("verified_by", sa.String(255), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("directory_opt_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_verified_credentials")),
    )
    op.create_index(op.f("ix_verified_credentials_npi"), "verified_credentials", ["npi"])
    op.create_index(
        op.f("ix_verified_credentials_licence_state"), "verified_credentials", ["licence_state"]
    )
    op.create_index(
        op.f("ix_verified_credentials_expires_at"), "verified_credentials", ["expires_at"]
    )
    op.create_table(
        "verified_rooms",
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name=op.f("pk_verified_rooms")),
    )
    op.create_table(
        "invite_blocks",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("blocked_user_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "blocked_user_id", name=op.f("pk_invite_blocks")),
    )


def downgrade() -> None:
    op.drop_table("invite_blocks")
    op.drop_table("verified_rooms")
    op.drop_index(op.f("ix_verified_credentials_expires_at"), table_name="verified_credentials")
    op.drop_index(op.f("ix_verified_credentials_licence_state"), table_name="verified_credentials")
    op.drop_index(op.f("ix_verified_credentials_npi"), table_name="verified_credentials")
    op.drop_table("verified_credentials")
