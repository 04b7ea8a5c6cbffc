"""Fixtures for the gatekeeper tests: a migrated database with the small registry loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from bots.gatekeeper.bot import GatekeeperBot
from curbside.audit import AuditLog
from curbside.database import make_engine, migrate
from tests.gatekeeper.registry_data import load_registry

AUDIT_KEY = b"gatekeeper-test-audit-key-000000"


@pytest.fixture
def audit() -> AuditLog:
    return AuditLog(AUDIT_KEY)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Engine:
    """A database on each backend with every gatekeeper table and the test registry."""
    engine = make_engine(db_url)
    migrate(engine, GatekeeperBot.version_locations())
    load_registry(engine, tmp_path)
    yield engine
    engine.dispose()
