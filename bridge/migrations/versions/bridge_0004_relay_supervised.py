"""Fax bridge: the relay's feed cursors move to the kernel's supervised-work table.

The relay's status and inbound feeds now run on the runtime's Supervisor,
which keeps each consumer's position (and the failed tries at its current
item) in ``matrix_feed_cursors``. The positions the bridge kept in
``bridge_cursors`` are carried over, so an upgraded bridge neither posts a
status or a fax again nor skips one.

Revision ID: bridge_0004
Revises: bridge_0003
Create Date: 2027-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bridge_0004"
down_revision = "bridge_0003"
branch_labels = None
depends_on = "curbside_0005"

ACCOUNT = "fax-bridge"  # bridge.relay.RELAY_ACCOUNT
RENAMED = {"job_changes": "fax-status", "inbound": "fax-inbound"}  # old name ─► feed name

_old = sa.table("bridge_cursors", sa.column("name", sa.String), sa.column("seq", sa.Integer))
_new = sa.table(
    "matrix_feed_cursors", sa.column("account", sa.String), sa.column("consumer", sa.String),
    sa.column("position", sa.Integer), sa.column("failing_position", sa.Integer),
    sa.column("failures", sa.Integer),
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_old.c.name, _old.c.seq)).all()
    kept = [{"account": ACCOUNT, "consumer": RENAMED[name], "position": seq,
             "failing_position": None, "failures": 0}
            for name, seq in rows if name in RENAMED]
    if kept:
        bind.execute(_new.insert(), kept)
    op.drop_table("bridge_cursors")


def downgrade() -> None:
    op.create_table(
        "bridge_cursors",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
    )
    bind = op.get_bind()
    back = {feed: name for name, feed in RENAMED.items()}
    rows = bind.execute(sa.select(_new.c.consumer, _new.c.position)
                        .where(_new.c.account == ACCOUNT)).all()
    kept = [{"name": back[consumer], "seq": position}
            for consumer, position in rows if consumer in back]
    if kept:
        bind.execute(_old.insert(), kept)
    bind.execute(_new.delete().where(_new.c.account == ACCOUNT))
