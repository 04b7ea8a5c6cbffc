"""`curbside status` reads the schema's state and migrates nothing: a database
one migration behind is reported, with the command that fixes it, and left as it was."""

from __future__ import annotations

from pathlib import Path

import yaml
from alembic import command
from click.testing import CliRunner
from sqlalchemy import insert, text

from curbside.cli import cli
from curbside.cli.wiring import BOTS, migration_locations
from curbside.database import _alembic_config, make_engine
from curbside.homeserver import EmbeddedSynapse
from curbside.matrix.models import MatrixAccount
from curbside.settings import load_settings


def _run(config_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config_path), *args])
    return result.exit_code, result.output


def _versions(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def test_status_reports_a_database_behind_and_leaves_it(
    tmp_path: Path, homeserver: EmbeddedSynapse
) -> None:
    config_path = tmp_path / "config" / "curbside.yaml"
    assert _run(config_path, "init")[0] == 0  # config, and the database at head
    config = yaml.safe_load(config_path.read_text())
    config["homeserver"]["url"] = homeserver.url
    config_path.write_text(yaml.safe_dump(config))
    settings = load_settings(config_path)
    engine = make_engine(settings.database.url)
    with engine.begin() as connection:  # every bot has run and synced
        for name in BOTS:
            connection.execute(insert(MatrixAccount).values(
                user_id=settings.bot_user_id(name), device_id=f"DEV{name}",
                access_token="token", sync_token="s1",
            ))
    code, output = _run(config_path, "status")
    assert (code, "database    at head") == (0, output.splitlines()[1]), output

    command.downgrade(_alembic_config(engine, migration_locations()), "bridge@-1")
    engine.dispose()
    before = _versions(settings.database.url)

    code, output = _run(config_path, "status")
    assert code == 1, output
    assert "database    bridge: behind, at bridge_" in output
    assert "run `curbside init` to migrate it" in output
    assert output.count("synced") == len(BOTS)  # the database was the only problem
    assert _versions(settings.database.url) == before  # nothing was applied

    assert _run(config_path, "init")[0] == 0  # the command status names fixes it
    code, output = _run(config_path, "status")
    assert (code, "database    at head") == (0, output.splitlines()[1]), output
