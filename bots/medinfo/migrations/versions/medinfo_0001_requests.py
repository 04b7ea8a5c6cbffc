"""Medinfo sponsors, requests and pharmacovigilance forwards.

Revision ID: medinfo_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "medinfo_0001"
down_revision = None
branch_labels = ("medinfo",)
depends_on = "curbside_0001"

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "medinfo_sponsors",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_medinfo_sponsors")),
    )
    op.create_table(
        "medinfo_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("clinician_id", sa.String(255), nullable=False),
        sa.Column("clinician_room_id", sa.String(255), nullable=False),
        sa.Column("clinician_thread_root", sa.String(255), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("sealed_draft", sa.Text(), nullable=False),
        sa.Column("sponsor_key", sa.String(64)),
        sa.Column("product", sa.String(128)),
        sa.Column("priority", sa.String(16)),
        sa.Column("response_mode", sa.String(16)),
        sa.Column("requester", sa.String(255)),
        sa.Column("team_room_id", sa.String(255)),
        sa.Column("root_txn_id", sa.String(64)),
        sa.Column("claimed_by", sa.String(255)),
        sa.Column("received_at", _WHEN, nullable=False),
        sa.Column("routed_at", _WHEN),
        sa.Column("due_at", _WHEN),
        sa.Column("reminded_at", _WHEN),
        sa.Column("escalated_at", _WHEN),
        sa.Column("first_answer_at", _WHEN),
        sa.Column("closed_at", _WHEN),
        sa.Column("outcome", sa.String(255)),
        sa.Column("helped", sa.Boolean()),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("follow_ups", sa.Integer(), nullable=False),
        sa.Column("ae_reports", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medinfo_requests")),
        sa.UniqueConstraint(
            "clinician_room_id", "clinician_thread_root",
            name=op.f("uq_medinfo_requests_clinician_room_id"),
        ),
    )
    for column in ("clinician_id", "state", "sponsor_key", "root_txn_id", "due_at"):
        op.create_index(
            op.f(f"ix_medinfo_requests_{column}"), "medinfo_requests", [column]
        )
    op.create_table(
        "medinfo_pv_reports",
        sa.Column("source_event_id", sa.String(255), nullable=False),
        sa.Column("request_id", sa.String(32)),
        sa.Column("sponsor_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("received_at", _WHEN, nullable=False),
        sa.Column("forwarded_at", _WHEN, nullable=False),
        sa.Column("seconds_to_forward", sa.Float(), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "source_event_id", "sponsor_key", name=op.f("pk_medinfo_pv_reports")
        ),
    )
    op.create_index(
        op.f("ix_medinfo_pv_reports_request_id"), "medinfo_pv_reports", ["request_id"]
    )


def downgrade() -> None:
    op.drop_table("medinfo_pv_reports")
    op.drop_table("medinfo_requests")
    op.drop_table("medinfo_sponsors")
