"""The composition root knows how to build every bot it lists."""

from __future__ import annotations

from curbside.cli.service import BOT_FACTORIES
from curbside.cli.wiring import BOTS
from curbside.settings import example_text


def test_every_bot_has_a_factory_and_a_config_section() -> None:
    assert set(BOT_FACTORIES) == set(BOTS)
    for name in BOTS:
        assert f"\n  {name}:\n" in example_text(), f"bots.{name} missing from the example config"
