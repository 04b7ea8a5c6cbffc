"""Gatekeeper: verification requests, DM contacts, sent notices.

Revision ID: 7c2d4e6f8a90
Revises: 3f1c0a9e7b21
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7c2d4e6f8a90"
down_revision = "3f1c0a9e7b21"
branch_labels = None
depends_on = "curbside_0003"


def upgrade() -> None:
    op.create_table(
        "gatekeeper_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("npi", sa.String(10), nullable=True),
        sa.Column("registry_name", sa.Text(), nullable=True),
        sa.Column("legal_name", sa.Text(), nullable=True),
        sa.Column("credential_text", sa.String(64), nullable=True),
        sa.Column("name_given", sa.Text(), nullable=True),
        sa.Column("licence_state", sa.String(2), nullable=True),
        sa.Column("licence_number", sa.String(64), nullable=True),
        sa.Column("taxonomy_code", sa.String(10), nullable=True),
        sa.Column("specialty", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gatekeeper_requests"),
    )
    op.create_index("ix_gatekeeper_requests_user_id", "gatekeeper_requests", ["user_id"])
    op.create_index("ix_gatekeeper_requests_state", "gatekeeper_requests", ["state"])
    op.create_table(
        "gatekeeper_contacts",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_gatekeeper_contacts"),
    )
    op.create_table(
        "gatekeeper_notices",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", "key", name="pk_gatekeeper_notices"),
    )


def downgrade() -> None:
    op.drop_table("gatekeeper_notices")
    op.drop_table("gatekeeper_contacts")
    op.drop_index("ix_gatekeeper_requests_state", table_name="gatekeeper_requests")
    op.drop_index("ix_gatekeeper_requests_user_id", table_name="gatekeeper_requests")
    op.drop_table("gatekeeper_requests")
