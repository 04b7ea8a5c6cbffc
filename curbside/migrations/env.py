"""Alembic environment shared by every package's version scripts.

The engine comes from :func:`curbside.database.migrate` through
``config.attributes`` so migrations run on exactly the engine the service uses
(SQLite or PostgreSQL) without a second URL to keep in sync.
"""

from __future__ import annotations

from alembic import context

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
