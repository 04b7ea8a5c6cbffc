"""The composition root's one bot table: each entry builds its own bot and brings its migrations."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from curbside.cli import cli
from curbside.cli.context import AppContext
from curbside.cli.service import build_bots
from curbside.cli.wiring import BOTS, migration_locations
from curbside.settings import example_text
from fax_gateway.cli import gateway_for, parse_fax_settings


def test_every_bot_has_a_config_section() -> None:
    for name in BOTS:
        assert f"\n  {name}:\n" in example_text(), f"bots.{name} missing from the example config"


def test_every_bots_migrations_are_migrated() -> None:
    locations = migration_locations()
    for name, bot in BOTS.items():
        assert bot.bot_class.migrations_location in bot.migrations, name
        assert set(bot.migrations) <= set(locations), name


def test_each_entry_builds_the_bot_class_it_names(tmp_path: Path) -> None:
    config_path = tmp_path / "config" / "curbside.yaml"
    assert CliRunner().invoke(cli, ["--config", str(config_path), "init"]).exit_code == 0
    app = AppContext(config_path=config_path)
    gateway = gateway_for(app, parse_fax_settings(app.settings.fax))
    bots = build_bots(app, gateway)
    assert [type(bot) for bot in bots] == [bot.bot_class for bot in BOTS.values()]
    assert [bot.account.user_id for bot in bots] == [app.settings.bot_user_id(n) for n in BOTS]
