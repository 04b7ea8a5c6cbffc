"""Confirmed fax numbers are kept by the gateway's keyed hash, never in the clear:
what the store writes, and what migration ``bridge_0003`` makes of older rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, text

from bridge.bridge import Bridge
from bridge.store import BridgeStore
from curbside import phi
from curbside.cli import cli
from curbside.cli.context import AppContext
from curbside.cli.wiring import migration_locations
from curbside.database import _alembic_config, make_engine, migrate, session_scope
from fax_gateway.cli import gateway_for, parse_fax_settings
from fax_gateway.models import number_hash
from fax_gateway.routing import Owner, OwnerKind, Router

PEPPER = b"p" * 32
MASTER = b"m" * 32
ROOM = "!practice:curbside.test"
NUMBER = "+13125550145"
NAME = "Dr. Lee's office"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _keys(engine: Engine) -> dict[str, object]:
    return {"fax_number_pepper": PEPPER, "phi_cipher": lambda: phi.load_cipher(engine, MASTER)}


def _store(engine: Engine) -> BridgeStore:
    router = Router(engine, PEPPER, Owner(OwnerKind.REFERRAL_DESK, "desk"))
    return BridgeStore(router.number_key)  # as the bridge makes it


def _table(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        result = connection.execute(text("SELECT * FROM bridge_known_numbers"))
        return [dict(row._mapping) for row in result]


def _digits_anywhere(rows: list[dict[str, object]]) -> bool:
    return any(NUMBER[1:] in str(value) for row in rows for value in row.values())


def test_the_store_keeps_the_number_hashed_and_its_digits_encrypted(engine: Engine) -> None:
    migrate(engine, Bridge.version_locations())
    phi.install_cipher(phi.load_cipher(engine, MASTER))
    store = _store(engine)
    with session_scope(engine) as session:
        store.confirm_number(session, ROOM, NUMBER, NAME, "@dana:curbside.test")
    (row,) = _table(engine)
    assert row["number_hash"] == number_hash(PEPPER, NUMBER)
    assert not _digits_anywhere([row])
    with session_scope(engine) as session:
        assert store.known_name(session, ROOM, "+1 312 555 0145") == NAME
        assert store.known_name(session, "!other:curbside.test", NUMBER) is None
        assert store.known_numbers(session, ROOM) == [(NUMBER, NAME)]


def _insert_plaintext_row(engine: Engine, cipher: phi.FieldCipher) -> None:
    """A confirmation as bridge_0002 kept it: the number in the clear in the key."""
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO bridge_known_numbers VALUES (:room, :number, :name, :by, :at)"),
            {"room": ROOM, "number": NUMBER, "by": "@dana:curbside.test",
             "name": cipher.encrypt_text(NAME, b"bridge_known_numbers.recipient_name"),
             "at": datetime(2026, 12, 1, tzinfo=UTC)},
        )


def _at_bridge_0002_with_a_plaintext_row(engine: Engine) -> None:
    config = _alembic_config(engine, Bridge.version_locations())
    command.upgrade(config, "bridge_0002")
    command.upgrade(config, "curbside@head")
    _insert_plaintext_row(engine, phi.load_cipher(engine, MASTER))


def test_migration_hashes_and_encrypts_existing_numbers(engine: Engine) -> None:
    _at_bridge_0002_with_a_plaintext_row(engine)
    assert _digits_anywhere(_table(engine))

    migrate(engine, Bridge.version_locations(), _keys(engine))

    (row,) = _table(engine)
    assert row["number_hash"] == number_hash(PEPPER, NUMBER)
    assert not _digits_anywhere([row])
    phi.install_cipher(phi.load_cipher(engine, MASTER))
    store = _store(engine)
    with session_scope(engine) as session:
        assert store.known_name(session, ROOM, NUMBER) == NAME  # the name's token moved as is
        assert store.known_numbers(session, ROOM) == [(NUMBER, NAME)]

    command.downgrade(_alembic_config(engine, Bridge.version_locations(), _keys(engine)),
                      "bridge_0002")  # undo bridge_0003 (and what came after it)
    (row,) = _table(engine)
    assert (row["room_id"], row["number"]) == (ROOM, NUMBER)


def test_migration_without_the_keys_says_how_to_run_it(engine: Engine) -> None:
    _at_bridge_0002_with_a_plaintext_row(engine)
    with pytest.raises(RuntimeError, match="migrate with `curbside init` or `curbside up`"):
        migrate(engine, Bridge.version_locations())
    assert [row["number"] for row in _table(engine)] == [NUMBER]  # nothing was lost


def test_curbside_init_converts_with_the_keys_the_running_bridge_uses(tmp_path: Path) -> None:
    config_path = tmp_path / "config" / "curbside.yaml"
    init = ["--config", str(config_path), "init"]
    assert CliRunner().invoke(cli, init).exit_code == 0
    app = AppContext(config_path=config_path)
    engine = make_engine(app.settings.database.url)
    command.downgrade(_alembic_config(engine, migration_locations()), "bridge_0002")
    cipher = phi.load_cipher(engine, app.settings.secrets.master_key_bytes)
    _insert_plaintext_row(engine, cipher)

    assert CliRunner().invoke(cli, init).exit_code == 0  # migrates, passing the keys

    gateway = gateway_for(app, parse_fax_settings(app.settings.fax))
    (row,) = _table(engine)
    assert row["number_hash"] == gateway.inbox.router.number_key(NUMBER)
    assert cipher.decrypt_text(str(row["number"]), b"bridge_known_numbers.number") == NUMBER
    engine.dispose()
