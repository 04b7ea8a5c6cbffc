"""Online PHI key rotation.

    add a new primary data key ──> new writes use it at once
    re-encrypt every EncryptedText column, table by table, in batches
    retire keys no token refers to any more

Old keys stay readable until the last token sealed with them is re-encrypted,
so the service keeps running throughout; an interrupted rotation is resumed by
running it again (rows already on the primary key are skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Engine, MetaData, Table, Text, select, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from curbside.database import Base
from curbside.phi import EncryptedText, FieldCipher, PhiKey, add_data_key, load_cipher

BATCH = 500


@dataclass(frozen=True, slots=True)
class RotationResult:
    new_key_id: str
    reencrypted: int
    retired_key_ids: tuple[str, ...]


def encrypted_columns(metadata: MetaData) -> Iterator[tuple[Table, Column[str], EncryptedText]]:
    """Every EncryptedText column of the tables in ``metadata``."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column, column.type


def _reencrypt_column(
    engine: Engine, cipher: FieldCipher, table: Table, column: Column[str], label: bytes
) -> int:
    # A plain-Text view of the table: tokens are read and written as stored,
    # without the EncryptedText type encrypting them a second time.
    pk_names = [col.name for col in table.primary_key.columns]
    raw = sa_table(table.name, *(sa_column(n) for n in pk_names), sa_column(column.name, Text()))
    token_column = raw.c[column.name]
    done = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(*(raw.c[n] for n in pk_names), token_column)
                .where(token_column.is_not(None))
                .where(~token_column.like(f"%.{cipher.primary_key_id}.%"))
                .limit(BATCH)
            ).all()
            for row in rows:
                fresh = cipher.encrypt_bytes(cipher.decrypt_bytes(row[-1], label), label)
                where = [raw.c[n] == row[i] for i, n in enumerate(pk_names)]
                conn.execute(update(raw).where(*where).values({column.name: fresh}))
        done += len(rows)
        if len(rows) < BATCH:
            return done


def rotate_keys(
    engine: Engine,
    master: bytes,
    progress: Callable[[str, int], None] | None = None,
    metadata: MetaData = Base.metadata,
) -> RotationResult:
    """Add a primary key, re-encrypt all PHI with it, retire unused keys.

    ``metadata`` defaults to every model the process imported (the CLI imports
    them all), so no PHI column is forgotten.
    """
    new_key_id = add_data_key(engine, master)
    cipher = load_cipher(engine, master)
    total = 0
    for table, column, kind in encrypted_columns(metadata):
        count = _reencrypt_column(engine, cipher, table, column, kind.column_label.encode())
        total += count
        if progress:
            progress(f"{table.name}.{column.name}", count)
    retired: list[str] = []
    with engine.begin() as conn:
        for key_id in conn.scalars(select(PhiKey.key_id).where(PhiKey.retired_at.is_(None))):
            if key_id != new_key_id:
                retired.append(key_id)
        if retired:
            conn.execute(
                update(PhiKey)
                .where(PhiKey.key_id.in_(retired))
                .values(retired_at=datetime.now(UTC))
            )
    return RotationResult(new_key_id, total, tuple(retired))
