"""The demo is set up only when asked for and only on the embedded homeserver."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curbside.cli import demo
from curbside.cli.context import AppContext
from curbside.settings import parse_settings, render_new_config


def _app(tmp_path: Path, **changes: dict[str, object]) -> AppContext:
    raw = yaml.safe_load(render_new_config())
    for section, values in changes.items():
        raw[section].update(values)
    settings = parse_settings(raw, tmp_path)
    return AppContext(config_path=tmp_path / "config" / "curbside.yaml", _settings=settings)


@pytest.mark.parametrize(("changes", "said"), [
    ({"demo": {"enabled": False}}, "demo: off (demo.enabled)"),
    ({"homeserver": {"mode": "external", "url": "https://matrix.example.org"}},
     "demo: not set up on an external homeserver"),
], ids=["switched off", "external homeserver"])
def test_no_demo_unless_enabled_on_the_embedded_homeserver(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, dict[str, object]],
        said: str) -> None:
    app = _app(tmp_path, **changes)
    demo.seed(app)
    assert capsys.readouterr().out.strip() == said
    assert not (tmp_path / "data" / "demo").exists()
    assert demo.screen(app) == []


def test_the_example_config_turns_the_demo_on(tmp_path: Path) -> None:
    assert _app(tmp_path).settings.demo_enabled
