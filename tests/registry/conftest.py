"""Database fixtures for the registry tests: every database test runs on SQLite and PostgreSQL.

Each backend gets one freshly migrated database per test session (PostgreSQL:
a uniquely named database on 127.0.0.1:5432, dropped at the end); each test
starts from empty registry tables.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bots.gatekeeper.registry import MIGRATIONS
from bots.gatekeeper.registry.nppes_format import HEADER
from curbside.database import make_engine, migrate

POSTGRES_ADMIN_URL = os.environ.get(
    "CURBSIDE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REGISTRY_TABLES = ("registry_licences", "registry_providers", "registry_taxonomies")
DATA = Path(__file__).parent / "data"
NUCC_EXCERPT = DATA / "nucc_taxonomy_excerpt.csv"

NppesWriter = Callable[[str, Sequence[Mapping[str, str]]], Path]


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("registry") / "registry.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, [MIGRATIONS])
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    name = f"curbside_registry_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        migrate(engine, [MIGRATIONS])
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated database with empty registry tables, on each backend in turn."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    db: Engine = request.getfixturevalue(fixture)
    with db.begin() as connection:
        for table in REGISTRY_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    return db


@pytest.fixture
def write_nppes(tmp_path: Path) -> NppesWriter:
    """Write rows (header name -> value) as an NPPES data file with the official header."""

    def write(name: str, rows: Sequence[Mapping[str, str]]) -> Path:
        unknown = {key for row in rows for key in row} - set(HEADER)
        assert not unknown, f"not NPPES columns: {unknown}"
        path = tmp_path / name
        with open(path, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, quoting=csv.QUOTE_ALL)
            writer.writerow(HEADER)
            for row in rows:
                writer.writerow([row.get(column, "") for column in HEADER])
        return path

    return write
