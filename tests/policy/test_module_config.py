"""The module's configuration: what `curbside up` writes, and what Synapse refuses to start with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from synapse.module_api.errors import ConfigError

from bots.gatekeeper.synapse_module import VerifiedRoomPolicy
from curbside.cli.context import AppContext
from curbside.settings import parse_settings, render_new_config


def test_embedded_homeserver_loads_the_module_with_this_deployments_settings(tmp_path: Path):
    settings = parse_settings(yaml.safe_load(render_new_config()), tmp_path)
    app = AppContext(config_path=tmp_path / "config" / "curbside.yaml", _settings=settings)

    (entry,) = app.homeserver_layout().modules

    assert entry["module"] == "bots.gatekeeper.synapse_module.VerifiedRoomPolicy"
    config = VerifiedRoomPolicy.parse_config(entry["config"])
    assert config.database_url == settings.database.url
    assert config.gatekeeper_user_id == settings.bot_user_id("gatekeeper")
    assert config.allowed_server_names == (settings.homeserver.server_name,)
    assert 0 < config.cache_ttl_seconds <= 2


GOOD = {"database_url": "sqlite:///curbside.db", "gatekeeper_user_id": "@gatekeeper:example.org"}


@pytest.mark.parametrize(("change", "key"), [
    pytest.param({"database_url": ""}, "database_url", id="database_url missing"),
    pytest.param({"gatekeeper_user_id": "gatekeeper"}, "gatekeeper_user_id",
                 id="gatekeeper_user_id not a user id"),
    pytest.param({"allowed_server_names": "example.org"}, "allowed_server_names",
                 id="allowed_server_names not a list"),
    pytest.param({"cache_ttl_seconds": 600}, "cache_ttl_seconds", id="cache TTL too long"),
    pytest.param({"cache_ttl_seconds": "2"}, "cache_ttl_seconds", id="cache TTL not a number"),
])
def test_a_bad_config_stops_synapse_naming_the_key(change: dict[str, Any], key: str):
    with pytest.raises(ConfigError) as raised:
        VerifiedRoomPolicy.parse_config({**GOOD, **change})
    assert raised.value.path == (key,)


def test_defaults() -> None:
    config = VerifiedRoomPolicy.parse_config(GOOD)
    assert config.allowed_server_names == ()  # the module then uses Synapse's server_name
    assert config.cache_ttl_seconds == 2.0
