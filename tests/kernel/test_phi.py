"""PHI field encryption: round trip, column binding, rotation, tamper evidence."""

from __future__ import annotations

import pytest

from curbside.database import make_engine, migrate
from curbside.phi import (
    FieldCipher,
    PhiKeyError,
    add_data_key,
    decode_master_key,
    load_cipher,
    new_master_key,
)


@pytest.fixture
def master() -> bytes:
    return decode_master_key(new_master_key())


def test_round_trip_and_column_binding(db_url: str, master: bytes) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    cipher = load_cipher(engine, master)
    token = cipher.encrypt_text("Dana Q. Patient", b"referral.patient_name")
    assert "Dana" not in token
    assert cipher.decrypt_text(token, b"referral.patient_name") == "Dana Q. Patient"
    with pytest.raises(PhiKeyError, match="wrong column"):
        cipher.decrypt_text(token, b"referral.payer")
    engine.dispose()


def test_rotation_keeps_old_tokens_readable(db_url: str, master: bytes) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    old = load_cipher(engine, master)
    token = old.encrypt_text("MRN-0042", b"c")
    new_id = add_data_key(engine, master)
    rotated = load_cipher(engine, master)
    assert rotated.primary_key_id == new_id != old.primary_key_id
    assert rotated.decrypt_text(token, b"c") == "MRN-0042"
    assert FieldCipher.key_id_of(rotated.encrypt_text("x1234", b"c")) == new_id
    engine.dispose()


def test_wrong_master_key_is_named(db_url: str, master: bytes) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    load_cipher(engine, master)
    with pytest.raises(PhiKeyError, match="master_key"):
        load_cipher(engine, decode_master_key(new_master_key()))
    engine.dispose()


def test_tampered_token_is_rejected(master: bytes) -> None:
    cipher = FieldCipher(keys={"k1": master}, primary_key_id="k1")
    token = cipher.encrypt_text("secret value", b"c")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(PhiKeyError):
        cipher.decrypt_text(flipped, b"c")


@pytest.mark.parametrize("bad", ["short", "!!!not-base64!!!"])
def test_bad_master_key_text(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_master_key(bad)
