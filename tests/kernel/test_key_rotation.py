"""`keys rotate` re-encrypts every PHI column with the new key, online."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select

from curbside import phi
from curbside.database import make_engine, migrate
from curbside.key_rotation import rotate_keys

metadata = MetaData()
patients = Table(
    "rotation_test_patients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", phi.EncryptedText("rotation_test_patients.name")),
)
raw_patients = Table(
    "rotation_test_patients",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", Text),
)


def test_rotation_reencrypts_and_retires(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    metadata.create_all(engine)
    master = phi.decode_master_key(phi.new_master_key())
    first = phi.load_cipher(engine, master)
    phi.install_cipher(first)
    names = [f"Patient Number {n:04d}" for n in range(1200)]  # more than one batch
    with engine.begin() as conn:
        conn.execute(insert(patients), [{"id": n, "name": name} for n, name in enumerate(names)])
        conn.execute(insert(patients), [{"id": 5000, "name": None}])

    result = rotate_keys(engine, master, metadata=metadata)

    assert result.reencrypted == 1200
    assert result.retired_key_ids == (first.primary_key_id,)
    with engine.connect() as conn:
        tokens = [t for t in conn.scalars(select(raw_patients.c.name)) if t is not None]
    assert {phi.FieldCipher.key_id_of(t) for t in tokens} == {result.new_key_id}
    phi.install_cipher(phi.load_cipher(engine, master))
    with engine.connect() as conn:
        stored = conn.execute(select(patients.c.name).order_by(patients.c.id)).scalars().all()
    assert stored == [*names, None]
    assert rotate_keys(engine, master, metadata=metadata).reencrypted == 1200  # idempotent again
    engine.dispose()
