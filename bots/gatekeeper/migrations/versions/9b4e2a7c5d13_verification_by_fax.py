"""Gatekeeper: the NPPES practice fax in the registry, and one-time fax codes.

Revision ID: 9b4e2a7c5d13
Revises: 9b4e1d2c3a57
Create Date: 2026-12-02

Registry rows imported before this have no fax (NULL) until the next NPPES
import fills it; verification by fax says so to the clinician meanwhile.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "9b4e2a7c5d13"
down_revision = "9b4e1d2c3a57"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_providers") as batch:
        batch.add_column(sa.Column("practice_fax", sa.Text(), nullable=True))
    with op.batch_alter_table("gatekeeper_requests") as batch:
        batch.add_column(
            sa.Column("faxed_code_confirmed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "gatekeeper_faxed_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("npi", sa.String(10), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("gateway_job_id", sa.String(32), nullable=True),
        sa.Column("wrong_tries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gatekeeper_faxed_codes"),
    )
    for column in ("request_id", "user_id", "npi"):
        op.create_index(f"ix_gatekeeper_faxed_codes_{column}", "gatekeeper_faxed_codes", [column])


def downgrade() -> None:
    for column in ("request_id", "user_id", "npi"):
        op.drop_index(f"ix_gatekeeper_faxed_codes_{column}", table_name="gatekeeper_faxed_codes")
    op.drop_table("gatekeeper_faxed_codes")
    with op.batch_alter_table("gatekeeper_requests") as batch:
        batch.drop_column("faxed_code_confirmed_at")
    with op.batch_alter_table("registry_providers") as batch:
        batch.drop_column("practice_fax")
