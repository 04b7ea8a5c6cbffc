"""Matrix runtime: bot accounts, event inbox, message outbox, device records.

Revision ID: curbside_0002
Revises: curbside_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "curbside_0002"
down_revision = "curbside_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "matrix_accounts",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("device_id", sa.String(255), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("cross_signing_seeds", sa.Text(), nullable=True),
        sa.Column("sync_token", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_matrix_accounts")),
    )
    op.create_table(
        "matrix_inbox",
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("session_id", sa.String(255), nullable=True),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("sender_notified", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("account", "event_id", name=op.f("pk_matrix_inbox")),
    )
    op.create_index(op.f("ix_matrix_inbox_room_id"), "matrix_inbox", ["room_id"])
    op.create_index(op.f("ix_matrix_inbox_state"), "matrix_inbox", ["state"])
    op.create_index(op.f("ix_matrix_inbox_session_id"), "matrix_inbox", ["session_id"])
    op.create_table(
        "matrix_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_event_id", sa.String(255), nullable=True),
        sa.Column("failed_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matrix_outbox")),
        sa.UniqueConstraint("account", "txn_id", name=op.f("uq_matrix_outbox_account")),
    )
    op.create_index(op.f("ix_matrix_outbox_account"), "matrix_outbox", ["account"])
    op.create_table(
        "matrix_devices",
        sa.Column("account", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("device_id", sa.String(255), nullable=False),
        sa.Column("ed25519", sa.String(64), nullable=False),
        sa.Column("curve25519", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("blacklisted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("account", "user_id", "device_id", name=op.f("pk_matrix_devices")),
    )


def downgrade() -> None:
    op.drop_table("matrix_devices")
    op.drop_index(op.f("ix_matrix_outbox_account"), table_name="matrix_outbox")
    op.drop_table("matrix_outbox")
    op.drop_index(op.f("ix_matrix_inbox_session_id"), table_name="matrix_inbox")
    op.drop_index(op.f("ix_matrix_inbox_state"), table_name="matrix_inbox")
    op.drop_index(op.f("ix_matrix_inbox_room_id"), table_name="matrix_inbox")
    op.drop_table("matrix_inbox")
