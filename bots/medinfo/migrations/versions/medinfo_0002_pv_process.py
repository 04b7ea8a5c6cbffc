"""The PV process: MSL determinations, acknowledgements, follow-ups, reconciliations.

Revision ID: medinfo_0002
Revises: medinfo_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "medinfo_0002"
down_revision = "medinfo_0001"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("medinfo_requests") as batch:
        batch.add_column(sa.Column("safety_determination", sa.String(16)))
        batch.add_column(sa.Column("safety_determined_by", sa.String(255)))
        batch.add_column(sa.Column("safety_determined_at", _WHEN))
    with op.batch_alter_table("medinfo_pv_reports") as batch:
        batch.add_column(sa.Column("ref", sa.String(16)))
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False,
                                   server_default="screen"))
        batch.add_column(sa.Column("state", sa.String(16), nullable=False,
                                   server_default="forwarded"))
        batch.add_column(sa.Column("forward_due_at", _WHEN))
        batch.add_column(sa.Column("acknowledged_by", sa.String(255)))
        batch.add_column(sa.Column("acknowledged_at", _WHEN))
        batch.add_column(sa.Column("escalated_at", _WHEN))
        batch.add_column(sa.Column("reporter_id", sa.String(255)))
    # Items forwarded before this revision get their reference now, then it is required.
    reports = sa.table("medinfo_pv_reports", sa.column("source_event_id"),
                       sa.column("sponsor_key"), sa.column("ref"))
    connection = op.get_bind()
    for event_id, sponsor_key in connection.execute(
            sa.select(reports.c.source_event_id, reports.c.sponsor_key)).all():
        connection.execute(reports.update().where(
            reports.c.source_event_id == event_id, reports.c.sponsor_key == sponsor_key,
        ).values(ref=f"PV-{uuid.uuid4().hex[:8].upper()}"))
    with op.batch_alter_table("medinfo_pv_reports") as batch:
        batch.alter_column("ref", existing_type=sa.String(16), nullable=False)
        batch.create_unique_constraint(op.f("uq_medinfo_pv_reports_ref"), ["ref"])
    op.create_table(
        "medinfo_pv_followups",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("pv_ref", sa.String(16), nullable=False),
        sa.Column("asked_by", sa.String(255), nullable=False),
        sa.Column("asked_at", _WHEN, nullable=False),
        sa.Column("room_id", sa.String(255), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medinfo_pv_followups")),
    )
    for column in ("pv_ref", "txn_id"):
        op.create_index(op.f(f"ix_medinfo_pv_followups_{column}"), "medinfo_pv_followups",
                        [column])
    op.create_table(
        "medinfo_pv_reconciliations",
        sa.Column("sponsor_key", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("posted_at", _WHEN, nullable=False),
        sa.Column("listed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sponsor_key", "day", name=op.f("pk_medinfo_pv_reconciliations")),
    )


def downgrade() -> None:
    op.drop_table("medinfo_pv_reconciliations")
    op.drop_table("medinfo_pv_followups")
    with op.batch_alter_table("medinfo_pv_reports") as batch:
        batch.drop_constraint(op.f("uq_medinfo_pv_reports_ref"), type_="unique")
        for column in ("reporter_id", "escalated_at", "acknowledged_at",
                       "acknowledged_by", "forward_due_at", "state", "origin", "ref"):
            batch.drop_column(column)
    with op.batch_alter_table("medinfo_requests") as batch:
        for column in ("safety_determined_at", "safety_determined_by", "safety_determination"):
            batch.drop_column(column)
