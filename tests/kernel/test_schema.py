"""The migrations of every package, run together, build exactly the schema the
models declare — on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import curbside.cli  # noqa: F401 - the composition root imports every package's models
from curbside.cli.wiring import migration_locations
from curbside.database import Base, make_engine, migrate, pending_branches


def test_all_migrations_match_all_models(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine, migration_locations())
    assert pending_branches(engine, migration_locations()) == []
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []
