"""Database engine, declarative base and migrations.

Every package keeps its own tables on the one :class:`Base` and its own Alembic
version scripts (``<package>/migrations/versions``); they all run through the
single Alembic environment in ``curbside/migrations``. The CLI module decides
which packages' scripts take part, so this module imports nothing of ours.

SQLite is the default (one file, WAL journal so the sync loop and handlers can
read while a writer commits); PostgreSQL is used by URL when one machine is not
enough.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
KERNEL_VERSIONS = MIGRATIONS_DIR / "versions"
KERNEL_BRANCH = "curbside"  # the branch label of the kernel's own version scripts

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by every package's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL.

    A plain ``postgresql://`` URL is mapped to the psycopg 3 driver, the one we
    install. SQLite connections get WAL, foreign keys and a busy timeout, so a
    second process (the Synapse module, the CLI) can read while a bot writes.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, future=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _tune_sqlite)
    return engine


@contextmanager
def session_scope(engine: Engine, *, autoflush: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception.

    ``autoflush=False`` is how handlers and jobs run: their writes reach the
    database at the commit, not at the first query after them.
    """
    session = Session(engine, autoflush=autoflush, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` once, after ``session``'s current transaction commits.

    A rollback drops it instead: work that must only follow committed effects
    (waking a sender for rows just queued, starting a job the rows describe)
    never runs for effects that vanished. Exceptions in ``callback`` are the
    caller's to handle; it runs inside SQLAlchemy's commit hook.
    """
    settled = False

    def committed(_session: Session) -> None:
        nonlocal settled
        if not settled:
            settled = True
            callback()

    def rolled_back(_session: Session, _previous: object) -> None:
        nonlocal settled
        settled = True

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_soft_rollback", rolled_back, once=True)


def _alembic_config(
    engine: Engine, version_locations: Sequence[Path], attributes: Mapping[str, Any] | None = None
) -> Config:
    locations = [KERNEL_VERSIONS, *(p for p in version_locations if p != KERNEL_VERSIONS)]
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations))
    config.attributes.update(attributes or {})
    config.attributes["engine"] = engine
    return config


def migrate(
    engine: Engine,
    version_locations: Sequence[Path] = (),
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Bring the schema to the head of every participating package's branch.

    ``attributes`` reach the version scripts as ``context.config.attributes``:
    how a script that converts existing rows gets a key it needs (the composition
    root supplies them; this module does not know what they are).
    """
    command.upgrade(_alembic_config(engine, version_locations, attributes), "heads")


@dataclass(frozen=True, slots=True)
class Behind:
    """A package's migration branch whose head the database has not reached."""

    branch: str  # the branch label, e.g. "bridge"
    current: str | None  # the revision the database is at on it; None: not started
    head: str


def pending_branches(engine: Engine, version_locations: Sequence[Path] = ()) -> list[Behind]:
    """The branches the database is behind on, by label; reads only, applies nothing."""
    script = ScriptDirectory.from_config(_alembic_config(engine, version_locations))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    applied: set[str] = set()
    for rev in current:
        applied.update(r.revision for r in script.iterate_revisions(rev, "base"))
    behind = []
    for head in set(script.get_heads()) - applied:
        lineage = {r.revision for r in script.iterate_revisions(head, "base")}
        labels = script.get_revision(head).branch_labels
        behind.append(Behind(
            branch=min(labels) if labels else head,
            current=next(iter(current & lineage), None),
            head=head,
        ))
    return sorted(behind, key=lambda b: b.branch)

