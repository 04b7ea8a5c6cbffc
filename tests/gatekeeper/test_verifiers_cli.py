"""`curbside verifiers add|list`: the credentialing team, without a room made by hand."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from curbside.cli import cli
from curbside.settings import render_new_config


def test_verifiers_are_added_once_and_listed_until_the_gatekeeper_makes_the_room(
        tmp_path: Path) -> None:
    config = tmp_path / "config" / "curbside.yaml"
    config.parent.mkdir()
    raw = yaml.safe_load(render_new_config())
    raw["demo"]["enabled"] = False
    config.write_text(yaml.safe_dump(raw))
    runner = CliRunner()

    def curbside(*args: str) -> str:
        result = runner.invoke(cli, ["--config", str(config), *args])
        assert result.exit_code == (1 if args[-1] == "dana" else 0), result.output
        return result.output

    added = curbside("verifiers", "add", "@dana:curbside.localhost")
    assert added.startswith("added @dana:curbside.localhost; the gatekeeper invites them to "
                            "a new encrypted room named 'Credentialing'")
    assert "already on the credentialing team" in curbside(
        "verifiers", "add", "@dana:curbside.localhost")
    assert "is not a Matrix ID" in curbside("verifiers", "add", "dana")
    assert curbside("verifiers", "list").splitlines() == [
        "credentialing room: not created yet", "  @dana:curbside.localhost  invite pending"]
