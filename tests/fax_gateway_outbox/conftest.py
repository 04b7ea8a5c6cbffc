"""Fixtures for the fax outbox tests: a migrated database per backend, the PHI
cipher, a hand-driven clock, tiny PDFs, and a gateway built from them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from curbside import phi
from curbside.audit import AuditLog
from curbside.database import make_engine, migrate
from fax_gateway.gateway import VERSIONS_DIR, FaxSettings, Gateway, derive_pepper, open_gateway
from fax_gateway.transports.base import Transport

AUDIT_KEY = b"fax-audit-key-for-tests-0123456789"
PEPPER = derive_pepper(AUDIT_KEY)


@dataclass
class ManualClock:
    """A clock that moves only when a test says so."""

    current: datetime = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta




@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate(engine, [VERSIONS_DIR])
    yield engine
    engine.dispose()


@pytest.fixture
def master_key() -> str:
    return phi.new_master_key()


@pytest.fixture
def cipher(engine: Engine, master_key: str) -> phi.FieldCipher:
    cipher = phi.load_cipher(engine, phi.decode_master_key(master_key))
    phi.install_cipher(cipher)
    return cipher


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(AUDIT_KEY)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def make_gateway(
    engine: Engine, cipher: phi.FieldCipher, audit: AuditLog, tmp_path: Path
) -> GatewayFactory:
    def build(
        settings: FaxSettings | None = None,
        *,
        transport: Transport | None = None,
        clock: ManualClock | None = None,
    ) -> Gateway:
        return open_gateway(
            settings or FaxSettings(),
            engine=engine,
            cipher=cipher,
            audit=audit,
            pepper=PEPPER,
            documents_dir=tmp_path / "fax-documents",
            clock=clock,
            transport=transport,
        )

    return build


@pytest.fixture
def key() -> str:
    return "referral-" + secrets.token_hex(4)
