"""Fax bridge: appservice transactions and events, portals, known numbers, faxes, cursors.

Revision ID: bridge_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bridge_0001"
down_revision = None
branch_labels = ("bridge",)
depends_on = "curbside_0001"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bridge_transactions",
        sa.Column("txn_id", sa.String(255), primary_key=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
    )
    op.create_table(
        "bridge_events",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("txn_id", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("state_key", sa.String(255), nullable=True),
        sa.Column("membership", sa.String(32), nullable=True),
        sa.Column("handled", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("event_id", name=op.f("uq_bridge_events_event_id")),
    )
    op.create_index(op.f("ix_bridge_events_handled"), "bridge_events", ["handled"])
    op.create_table(
        "bridge_portals",
        sa.Column("room_id", sa.String(255), primary_key=True),
        sa.Column("puppet_id", sa.String(255), primary_key=True),
        sa.Column("owner_kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("welcomed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index(op.f("ix_bridge_portals_owner_id"), "bridge_portals", ["owner_id"])
    op.create_table(
        "bridge_known_numbers",
        sa.Column("room_id", sa.String(255), primary_key=True),
        sa.Column("number", sa.String(16), primary_key=True),
        sa.Column("recipient_name", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.String(255), nullable=False),
        sa.Column("confirmed_at", _TS, nullable=False),
    )
    op.create_table(
        "bridge_faxes",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("thread_root", sa.String(255), nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("puppet_id", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.UniqueConstraint("event_id", name=op.f("uq_bridge_faxes_event_id")),
    )
    op.create_table(
        "bridge_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "bridge_cursors", "bridge_faxes", "bridge_known_numbers", "bridge_portals",
        "bridge_events", "bridge_transactions",
    ):
        op.drop_table(table)
