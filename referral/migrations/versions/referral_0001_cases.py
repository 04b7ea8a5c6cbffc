"""Referral cases, history, business statuses, attachments, deliveries, disclosures.

Revision ID: referral_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "referral_0001"
down_revision = None
branch_labels = ("referral",)
depends_on = "curbside_0001"

_TS = sa.DateTime(timezone=True)


def _index(table: str, column: str, unique: bool = False) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=unique)


def upgrade() -> None:
    op.create_table(
        "referral_cases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("business_status", sa.String(40), nullable=True),
        sa.Column("business_status_at", _TS, nullable=True),
        sa.Column("patient_name", sa.Text(), nullable=False),
        sa.Column("patient_dob", sa.Text(), nullable=False),
        sa.Column("patient_sex", sa.Text(), nullable=False),
        sa.Column("patient_mrn", sa.Text(), nullable=False),
        sa.Column("patient_phone", sa.Text(), nullable=False),
        sa.Column("payer", sa.Text(), nullable=False),
        sa.Column("member_id", sa.Text(), nullable=False),
        sa.Column("patient_index", sa.String(64), nullable=False),
        sa.Column("referring_org_name", sa.String(200), nullable=False),
        sa.Column("referring_org_phone", sa.String(20), nullable=False),
        sa.Column("referring_org_fax", sa.String(20), nullable=False),
        sa.Column("referrer_user_id", sa.String(255), nullable=False),
        sa.Column("referrer_name", sa.String(255), nullable=False),
        sa.Column("referrer_credential", sa.String(64), nullable=False),
        sa.Column("referrer_npi", sa.String(10), nullable=False),
        sa.Column("referrer_specialty", sa.String(255), nullable=False),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("recipient_address", sa.String(255), nullable=False),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("recipient_phone", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("icd10_codes", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("clinical_question", sa.Text(), nullable=False),
        sa.Column("consent_attested", sa.Boolean(), nullable=False),
        sa.Column("consent_attested_by", sa.String(255), nullable=False),
        sa.Column("consent_attested_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("packet_sha256", sa.String(64), nullable=True),
        sa.Column("packet_sha1", sa.String(40), nullable=True),
        sa.Column("packet_size", sa.Integer(), nullable=True),
        sa.Column("packet_pages", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_cases")),
    )
    _index("referral_cases", "status")
    _index("referral_cases", "patient_index")
    _index("referral_cases", "referrer_user_id")
    _index("referral_cases", "recipient_address")

    op.create_table(
        "referral_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral_cases.id"],
            name=op.f("fk_referral_history_referral_id_referral_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_history")),
    )
    _index("referral_history", "referral_id")

    op.create_table(
        "referral_business_statuses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral_cases.id"],
            name=op.f("fk_referral_business_statuses_referral_id_referral_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_business_statuses")),
    )
    _index("referral_business_statuses", "referral_id")

    op.create_table(
        "referral_attachments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.Column("added_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral_cases.id"],
            name=op.f("fk_referral_attachments_referral_id_referral_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_attachments")),
    )
    _index("referral_attachments", "referral_id")

    op.create_table(
        "referral_deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("recipient_kind", sa.String(16), nullable=False),
        sa.Column("recipient_address", sa.String(255), nullable=False),
        sa.Column("packet_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral_cases.id"],
            name=op.f("fk_referral_deliveries_referral_id_referral_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_referral_deliveries_idempotency_key")),
    )
    _index("referral_deliveries", "referral_id")

    op.create_table(
        "referral_disclosures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(32), nullable=False),
        sa.Column("delivery_id", sa.String(32), nullable=True),
        sa.Column("patient_index", sa.String(64), nullable=False),
        sa.Column("disclosed_at", _TS, nullable=False),
        sa.Column("recipient_name", sa.String(200), nullable=False),
        sa.Column("recipient_address", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("disclosed_by", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referral_cases.id"],
            name=op.f("fk_referral_disclosures_referral_id_referral_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["referral_deliveries.id"],
            name=op.f("fk_referral_disclosures_delivery_id_referral_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_disclosures")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_referral_disclosures_delivery_id")),
    )
    _index("referral_disclosures", "referral_id")
    _index("referral_disclosures", "patient_index")


def downgrade() -> None:
    for table in (
        "referral_disclosures",
        "referral_deliveries",
        "referral_attachments",
        "referral_business_statuses",
        "referral_history",
        "referral_cases",
    ):
        op.drop_table(table)
