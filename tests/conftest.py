"""Shared fixtures: a real Synapse, real databases on both backends.

* ``homeserver`` — one Synapse for the whole run on a free loopback port in a
  temporary directory (rate limits off, shared-secret registration). Tests that
  restart it get it back healthy; they must not assume a quiet server.
* ``private_homeserver`` — a Synapse of a test's own, for tests that need a
  clean server or special config (modules, appservices).
* ``db_url`` — parametrised over SQLite and PostgreSQL: every database test
  runs on both. Each test gets a fresh, empty database.

The run also guards PHI: every log record of the test process goes, through
the same PHI filter the service installs, to a file in the run's temporary
directory; at the end that file and every other log there (Synapse's, the
bots' subprocesses', the Node client's) are scanned for the seeded canary
values of ``tests/support/phi_canary.py``. A hit fails the whole run.
"""

from __future__ import annotations

import logging
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from curbside import redaction
from curbside.homeserver import EmbeddedSynapse, HomeserverLayout, free_port
from tests.support.phi_canary import CANARY_VALUES

POSTGRES_ADMIN_URL = os.environ.get(
    "CURBSIDE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


_LOG_SUFFIXES = (".log", ".stderr", ".txt")


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin has made the base directory
def pytest_configure(config: pytest.Config) -> None:
    log_dir = Path(config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    handler = logging.FileHandler(log_dir / "test-run.log")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    redaction.install(handler)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


def _canary_hits(root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in _LOG_SUFFIXES:
            text = path.read_text(errors="replace")
            hits.extend(f"{path}: {value!r}" for value in CANARY_VALUES if value in text)
    return hits


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    root = Path(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    hits = _canary_hits(root)
    if hits:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "PHI canary found in logs:\n  " + "\n  ".join(hits)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
