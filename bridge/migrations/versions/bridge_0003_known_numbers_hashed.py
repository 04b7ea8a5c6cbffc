"""Fax bridge: confirmed numbers keyed by the gateway's keyed hash, digits encrypted.

``bridge_known_numbers`` had the number in the clear in its primary key. It is
now keyed by ``number_hash`` (``fax_gateway.number_hash`` with the
gateway's pepper, the key ``fax_routes`` uses) and keeps the digits, needed only
to list a room's numbers, as a PHI token (``EncryptedText``). Rows keep their
recipient names' tokens as they are.

Converting existing rows needs two keys, which the composition root passes
through ``context.config.attributes`` (``curbside.database.migrate``):
``fax_number_pepper`` (bytes) and ``phi_cipher`` (a callable returning the
deployment's ``FieldCipher``). A table without rows needs neither.

Revision ID: bridge_0003
Revises: bridge_0002
Create Date: 2027-01-12
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from curbside.phi import FieldCipher
from fax_gateway import number_hash

revision = "bridge_0003"
down_revision = "bridge_0002"
branch_labels = None
depends_on = None

TABLE = "bridge_known_numbers"
NUMBER_AAD = b"bridge_known_numbers.number"  # EncryptedText("bridge_known_numbers.number")
_TS = sa.DateTime(timezone=True)
_KEPT = ("room_id", "recipient_name", "confirmed_by", "confirmed_at")


def _rows(*number_columns: sa.ColumnClause[Any]) -> list[dict[str, Any]]:
    table = sa.table(
        TABLE, sa.column("room_id", sa.String), sa.column("recipient_name", sa.Text),
        sa.column("confirmed_by", sa.String), sa.column("confirmed_at", _TS), *number_columns,
    )
    return [dict(row._mapping) for row in op.get_bind().execute(sa.select(table))]


def _key(name: str, count: int) -> Any:
    value = context.config.attributes.get(name)
    if value is None:
        raise RuntimeError(
            f"bridge_0003 converts {count} confirmed fax number(s) and needs the deployment's "
            f"keys ({name!r} is missing): migrate with `curbside init` or `curbside up`, "
            "which pass them, not with a bare alembic command"
        )
    return value


def _cipher(count: int) -> FieldCipher:
    load: Callable[[], FieldCipher] = _key("phi_cipher", count)
    return load()


def _create(*number_columns: sa.Column[Any]) -> sa.Table:
    return op.create_table(
        TABLE,
        sa.Column("room_id", sa.String(255), primary_key=True),
        *number_columns,
        sa.Column("recipient_name", sa.Text(), nullable=False),
        sa.Column("confirmed_by", sa.String(255), nullable=False),
        sa.Column("confirmed_at", _TS, nullable=False),
    )


def upgrade() -> None:
    rows = _rows(sa.column("number", sa.String))
    converted = []
    if rows:
        pepper: bytes = _key("fax_number_pepper", len(rows))
        cipher = _cipher(len(rows))
        converted = [
            {**{c: row[c] for c in _KEPT}, "number_hash": number_hash(pepper, row["number"]),
             "number": cipher.encrypt_text(row["number"], NUMBER_AAD)}
            for row in rows
        ]
    op.drop_table(TABLE)
    table = _create(
        sa.Column("number_hash", sa.String(64), primary_key=True),
        sa.Column("number", sa.Text(), nullable=False),
    )
    op.bulk_insert(table, converted)


def downgrade() -> None:
    rows = _rows(sa.column("number", sa.Text))
    restored = []
    if rows:
        cipher = _cipher(len(rows))
        restored = [
            {**{c: row[c] for c in _KEPT}, "number": cipher.decrypt_text(row["number"], NUMBER_AAD)}
            for row in rows
        ]
    op.drop_table(TABLE)
    table = _create(sa.Column("number", sa.String(16), primary_key=True))
    op.bulk_insert(table, restored)
