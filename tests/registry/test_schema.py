"""The migration scripts create exactly the tables models.py declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from bots.gatekeeper.registry import models


def test_migrated_schema_matches_models(engine: Engine) -> None:
    ours = MetaData(naming_convention=models.Base.metadata.naming_convention)
    for table in models.Base.metadata.sorted_tables:
        if table.name.startswith("registry_"):
            table.to_metadata(ours)
    assert len(ours.tables) == 3
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": lambda name, kind, _parent: kind != "table"
                  or name.startswith("registry_"), "compare_type": True},
        )
        assert compare_metadata(context, ours) == []
