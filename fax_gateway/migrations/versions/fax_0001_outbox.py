"""Fax gateway: outbox, job events, rate windows, routes, inbound faxes.

Revision ID: fax_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fax_0001"
down_revision = None
branch_labels = ("fax_gateway",)
depends_on = "curbside_0001"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fax_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("transport", sa.String(32), nullable=False),
        sa.Column("to_number", sa.Text(), nullable=False),
        sa.Column("destination_hash", sa.String(64), nullable=False),
        sa.Column("recipient_name", sa.Text(), nullable=True),
        sa.Column("caller_ident", sa.String(64), nullable=False),
        sa.Column("document_ref", sa.String(64), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_key", sa.String(64), nullable=True),
        sa.Column("provider_id", sa.String(128), nullable=True),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("deadline_at", _TS, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("lease_expires_at", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fax_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_fax_jobs_idempotency_key")),
        sa.UniqueConstraint("transport", "provider_id", name=op.f("uq_fax_jobs_transport")),
    )
    op.create_index(op.f("ix_fax_jobs_state"), "fax_jobs", ["state"])
    op.create_index(op.f("ix_fax_jobs_destination_hash"), "fax_jobs", ["destination_hash"])
    op.create_index(op.f("ix_fax_jobs_next_attempt_at"), "fax_jobs", ["next_attempt_at"])
    op.create_table(
        "fax_job_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_fax_job_events")),
    )
    op.create_index(op.f("ix_fax_job_events_job_id"), "fax_job_events", ["job_id"])
    op.create_table(
        "fax_destinations",
        sa.Column("destination_hash", sa.String(64), nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("destination_hash", name=op.f("pk_fax_destinations")),
    )
    op.create_table(
        "fax_routes",
        sa.Column("number_hash", sa.String(64), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("owner_kind", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("number_hash", name=op.f("pk_fax_routes")),
    )
    op.create_table(
        "fax_inbound",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("transport", sa.String(32), nullable=False),
        sa.Column("provider_fax_id", sa.String(128), nullable=False),
        sa.Column("from_number", sa.Text(), nullable=True),
        sa.Column("to_number", sa.Text(), nullable=False),
        sa.Column("owner_kind", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("document_ref", sa.String(64), nullable=False),
        sa.Column("original_ref", sa.String(64), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_fax_inbound")),
        sa.UniqueConstraint("id", name=op.f("uq_fax_inbound_id")),
        sa.UniqueConstraint("transport", "provider_fax_id", name=op.f("uq_fax_inbound_transport")),
    )


def downgrade() -> None:
    op.drop_table("fax_inbound")
    op.drop_table("fax_routes")
    op.drop_table("fax_destinations")
    op.drop_index(op.f("ix_fax_job_events_job_id"), table_name="fax_job_events")
    op.drop_table("fax_job_events")
    op.drop_index(op.f("ix_fax_jobs_next_attempt_at"), table_name="fax_jobs")
    op.drop_index(op.f("ix_fax_jobs_destination_hash"), table_name="fax_jobs")
    op.drop_index(op.f("ix_fax_jobs_state"), table_name="fax_jobs")
    op.drop_table("fax_jobs")
