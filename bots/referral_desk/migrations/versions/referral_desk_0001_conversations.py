"""Referral desk conversations, threads, DM rooms, escalations and feed cursors.

Revision ID: referral_desk_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "referral_desk_0001"
down_revision = None
branch_labels = ("referral_desk",)
depends_on = "curbside_0001"

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "referral_desk_conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("thread_root", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answers", sa.Text(), nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_desk_conversations")),
        sa.UniqueConstraint(
            "room_id", "thread_root", name=op.f("uq_referral_desk_conversations_room_id")
        ),
    )
    for column in ("user_id", "state", "referral_id"):
        op.create_index(
            op.f(f"ix_referral_desk_conversations_{column}"),
            "referral_desk_conversations",
            [column],
        )
    op.create_table(
        "referral_desk_threads",
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("thread_root", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", "role", name=op.f("pk_referral_desk_threads")),
    )
    op.create_index(
        op.f("ix_referral_desk_threads_thread_root"), "referral_desk_threads", ["thread_root"]
    )
    op.create_table(
        "referral_desk_direct_rooms",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_referral_desk_direct_rooms")),
    )
    op.create_table(
        "referral_desk_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("due_at", _WHEN, nullable=False),
        sa.Column("sent_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_desk_escalations")),
        sa.UniqueConstraint(
            "referral_id", "level", name=op.f("uq_referral_desk_escalations_referral_id")
        ),
    )
    op.create_index(
        op.f("ix_referral_desk_escalations_referral_id"),
        "referral_desk_escalations",
        ["referral_id"],
    )
    op.create_table(
        "referral_desk_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_referral_desk_cursors")),
    )


def downgrade() -> None:
    for table in (
        "referral_desk_cursors",
        "referral_desk_escalations",
        "referral_desk_direct_rooms",
        "referral_desk_threads",
        "referral_desk_conversations",
    ):
        op.drop_table(table)
