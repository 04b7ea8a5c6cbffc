"""The Alembic scripts create exactly the tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

import fax_gateway.models  # noqa: F401  (registers the fax tables on Base.metadata)
from curbside.database import Base

FAX_TABLES = {
    "fax_jobs",
    "fax_job_events",
    "fax_destinations",
    "fax_routes",
    "fax_inbound",
    "fax_feed_heads",
    "fax_dispositions",
}


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= FAX_TABLES
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [change for change in diff if "fax_" in repr(change)]
    assert ours == []
