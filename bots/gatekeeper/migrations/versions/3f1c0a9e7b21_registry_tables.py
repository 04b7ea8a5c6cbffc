"""Provider registry: NPPES providers, their licences, NUCC taxonomies.

Revision ID: 3f1c0a9e7b21
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3f1c0a9e7b21"
down_revision = None
branch_labels = ("gatekeeper",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_providers",
        sa.Column("npi", sa.String(10), nullable=False),
        sa.Column("entity_type", sa.SmallInteger(), nullable=True),
        sa.Column("organization_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("name_prefix", sa.Text(), nullable=True),
        sa.Column("name_suffix", sa.Text(), nullable=True),
        sa.Column("credential", sa.Text(), nullable=True),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("practice_state", sa.Text(), nullable=True),
        sa.Column("practice_postal_code", sa.Text(), nullable=True),
        sa.Column("enumeration_date", sa.Date(), nullable=True),
        sa.Column("last_update_date", sa.Date(), nullable=True),
        sa.Column("deactivation_date", sa.Date(), nullable=True),
        sa.Column("reactivation_date", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("npi", name="pk_registry_providers"),
    )
    op.create_index(
        "ix_registry_providers_practice_state", "registry_providers", ["practice_state"]
    )
    op.create_table(
        "registry_licences",
        sa.Column("npi", sa.String(10), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("taxonomy_code", sa.String(10), nullable=False),
        sa.Column("licence_number", sa.Text(), nullable=True),
        sa.Column("licence_state", sa.Text(), nullable=True),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["npi"],
            ["registry_providers.npi"],
            name="fk_registry_licences_npi_registry_providers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("npi", "slot", name="pk_registry_licences"),
    )
    op.create_index(
        "ix_registry_licences_taxonomy_code", "registry_licences", ["taxonomy_code"]
    )
    op.create_table(
        "registry_taxonomies",
        sa.Column("code", sa.String(10), nullable=False),
        sa.Column("grouping", sa.Text(), nullable=False),
        sa.Column("classification", sa.Text(), nullable=False),
        sa.Column("specialization", sa.Text(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("clinical", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_registry_taxonomies"),
    )


def downgrade() -> None:
    op.drop_table("registry_taxonomies")
    op.drop_index("ix_registry_licences_taxonomy_code", table_name="registry_licences")
    op.drop_table("registry_licences")
    op.drop_index("ix_registry_providers_practice_state", table_name="registry_providers")
    op.drop_table("registry_providers")
