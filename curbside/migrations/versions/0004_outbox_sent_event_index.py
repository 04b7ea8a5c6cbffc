"""Index the outbox by the event id a message was sent as.

Bots look up "which of my messages became this event" (the medinfo desk finds
a request from the MSL thread root it replied in); without the index that is a
scan of every message the bot ever sent.

Revision ID: curbside_0004
Revises: curbside_0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "curbside_0004"
down_revision = "curbside_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_matrix_outbox_sent_event_id"), "matrix_outbox", ["sent_event_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_matrix_outbox_sent_event_id"), table_name="matrix_outbox")
