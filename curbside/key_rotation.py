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

from sqlalchemy import Column, Engine, Table, select, update

from curbside.database import Base
from curbside.phi import EncryptedText, FieldCipher, PhiKey, add_data_key, load_cipher

BATCH = 500


@dataclass(frozen=True, slots=True)
class RotationResult:
    new_key_id: str
    reencrypted: int
    retired_key_ids: tuple[str, ...]


def encrypted_columns() -> Iterator[tuple[Table, Column[str], EncryptedText]]:
    """Every EncryptedText column of every model the process has imported."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                yield table, column, column.type


def _reencrypt_column(
    engine: Engine, cipher: FieldCipher, table: Table, column: Column[str], label: bytes
) -> int:
    raw = column.type.impl  # type: ignore[attr-defined]
    raw_column = Column(column.name, raw)
    pk = list(table.primary_key.columns)
    done = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(*pk, raw_column)
                .select_from(table)
                .where(raw_column.is_not(None))
                .where(~raw_column.like(f"%.{cipher.primary_key_id}.%"))
                .limit(BATCH)
            ).all()
            for row in rows:
                token = row[-1]
                fresh = cipher.encrypt_bytes(cipher.decrypt_bytes(token, label), label)
                where = [col == row[i] for i, col in enumerate(pk)]
                conn.execute(update(table).where(*where).values({raw_column.name: fresh}))
        done += len(rows)
        if len(rows) < BATCH:
            return done


def rotate_keys(
    engine: Engine, master: bytes, progress: Callable[[str, int], None] | None = None
) -> RotationResult:
    """Add a primary key, re-encrypt all PHI with it, retire unused keys."""
    new_key_id = add_data_key(engine, master)
    cipher = load_cipher(engine, master)
    total = 0
    for table, column, kind in encrypted_columns():
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
