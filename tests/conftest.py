"""Shared fixtures: a real Synapse, real databases on both backends.

* ``homeserver`` — one Synapse for the whole run on a free loopback port in a
  temporary directory (rate limits off, shared-secret registration). Tests that
  restart it get it back healthy; they must not assume a quiet server.
* ``private_homeserver`` — a Synapse of a test's own, for tests that need a
  clean server or special config (modules, appservices).
* ``db_url`` — parametrised over SQLite and PostgreSQL: every database test
  runs on both. Each test gets a fresh, empty database.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from curbside.homeserver import EmbeddedSynapse, HomeserverLayout, free_port

POSTGRES_ADMIN_URL = os.environ.get(
    "CURBSIDE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def make_synapse(tmp_dir: Path, **kwargs: object) -> EmbeddedSynapse:
    layout = HomeserverLayout(
        data_dir=tmp_dir,
        server_name="curbside.test",
        port=free_port(),
        registration_shared_secret=secrets.token_urlsafe(24),
        **kwargs,  # type: ignore[arg-type]
    )
    return EmbeddedSynapse(layout)


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSynapse]:
    synapse = make_synapse(tmp_path_factory.mktemp("synapse"))
    synapse.start()
    yield synapse
    synapse.stop()


@pytest.fixture
def private_homeserver(tmp_path: Path) -> Iterator[EmbeddedSynapse]:
    synapse = make_synapse(tmp_path / "synapse")
    synapse.start()
    yield synapse
    synapse.stop()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for localparts and room names within one run."""
    return uuid.uuid4().hex[:8]


def _postgres_database() -> Iterator[str]:
    name = f"curbside_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database URL on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'curbside.db'}"
    else:
        yield from _postgres_database()
