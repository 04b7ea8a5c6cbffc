"""The fax-verdict feed's cursor moves to the kernel's feed cursors.

Declared feed consumers keep their position in ``matrix_feed_cursors``
(curbside_0005), so the desk's own cursor table goes. A desk upgraded from
0001 re-reads the fax job feed from the start once: recording a verdict is
idempotent and a repeated verdict posts nothing, so nobody is told twice.

Revision ID: referral_desk_0002
Revises: referral_desk_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "referral_desk_0002"
down_revision = "referral_desk_0001"
branch_labels = None
depends_on = ("curbside_0005",)


def upgrade() -> None:
    op.drop_table("referral_desk_cursors")


def downgrade() -> None:
    op.create_table(
        "referral_desk_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_referral_desk_cursors")),
    )
